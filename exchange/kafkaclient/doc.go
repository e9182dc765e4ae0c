// Package kafkaclient is the one place the exchange binary builds Kafka
// clients: the `kafka:` connection block of exchange.yaml (Config) and a
// builder (Clients) that hands out every kafka-go client the binary uses —
// the Dialer of Readers and ConsumerGroups, the Transport of Writers and
// admin Clients, and those clients themselves — configured from that one
// block, with the safe defaults set once (acks from all in-sync replicas,
// synchronous writes, no topic auto-creation).
//
//	kafka:
//	  brokers: [kafka-1:9092, kafka-2:9092]
//	  client_id: exchange            # default: kafka-go's (program@host)
//	  tls:                           # optional; files only
//	    ca_file: /etc/exchange/kafka/ca.pem
//	    cert_file: /etc/exchange/kafka/client.pem
//	    key_file: /etc/exchange/kafka/client-key.pem
//	    server_name: kafka.internal
//	  sasl:                          # optional: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
//	    mechanism: SCRAM-SHA-512
//	    username: exchange
//	    password_file: /var/run/secrets/kafka-password  # default: $EXCHANGE_KAFKA_SASL_PASSWORD
//
//	  sasl:                          # OAUTHBEARER: a token file, re-read on every connection …
//	    mechanism: OAUTHBEARER
//	    token_file: /var/run/secrets/kafka/token
//	  sasl:                          # … or a client-credentials endpoint, tokens cached until near expiry
//	    mechanism: OAUTHBEARER
//	    token_endpoint: https://idp.example/oauth2/token
//	    client_id: exchange
//	    client_secret_file: /var/run/secrets/kafka/client-secret  # default: $EXCHANGE_KAFKA_SASL_CLIENT_SECRET
//	    scope: kafka
//
// Secrets come from files or the environment (PasswordEnv), never from the
// YAML itself, and are never logged: Config and SASL implement String and
// slog.LogValuer without them, and no error carries them. The SASL
// mechanism (kafka-go's sasl/plain and sasl/scram) is set on the Dialer
// (Readers, consumer groups) and the Transport (Writers, admin Clients)
// alike, so every client of the binary authenticates the same way.
// kafka-go v0.4 has no OAUTHBEARER mechanism: oauthbearer.go implements
// sasl.Mechanism with the RFC 7628 client message, asking for the token on
// every new connection (so rotation needs no restart).
//
// Config.Authenticated says whether the block identifies the exchange to
// the brokers (SASL or a TLS client certificate); `exchange serve` refuses
// to start without it unless --insecure is given. Ping checks the
// credentials against the brokers; Explain adds a hint to kafka-go's
// authentication and authorization errors.
//
// Usage:
//
//	c, err := kafkaclient.New(cfg)  // validates, loads the TLS files
//	defer c.Close()
//	w := c.Writer(topic)            // adjust Balancer, BatchSize… before first use
//	r := c.Reader(kafka.ReaderConfig{Topic: t, Partition: p})
//	admin := c.Admin()
//
// Building kafka-go clients anywhere else is refused by TestClientsBuiltOnlyHere.
package kafkaclient
