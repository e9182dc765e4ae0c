// Package devcreds writes the Kafka credentials `exchange dev` issues
// (IDENTITY.md, "Dev mode credentials"): under <data-dir>/credentials/,
// agencies/<agency>.properties for librdkafka and Confluent clients and
// agencies/<agency>.java.properties for Kafka's own CLI tools, plus the
// password files of the in-process exchange and the dev super user.
// Passwords are derived from the dev data directory's master key, so they
// stay the same across restarts. Files are 0600, directories 0700.
//
// `exchange publish` and `exchange consume` find an agency's file here
// when no --credentials or --brokers is given (AgencyFile).
package devcreds
