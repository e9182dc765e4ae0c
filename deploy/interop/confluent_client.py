#!/usr/bin/env python3
"""Publish to and consume from the exchange with the Confluent Python client.

What an agency's own software does, with nothing but the client properties
file the exchange issued (`exchange dev` writes one per agency under
<data-dir>/credentials/agencies/<agency>.properties):

  1. produce sample records to ingress.<dataset>, Avro-encoded by the
     client's AvroSerializer against the schema registered in the exchange's
     registry (never registering one itself);
  2. consume what the exchange delivered from deliver.<consumer>.<agreement>
     with the consumer agency's properties file, decoded by AvroDeserializer;
  3. print a JSON summary on stdout.

The properties file is used as is: the registry keys (schema.registry.url,
basic.auth.credentials.source, basic.auth.user.info, schema.registry.*) go
to the SchemaRegistryClient, every other key to librdkafka unchanged, so a
key librdkafka does not know fails here as it would in any client.

Run with the venv of deploy/local/python-env.sh:

  $(deploy/local/python-env.sh) deploy/interop/confluent_client.py \\
      --producer .exchange-dev/credentials/agencies/health.properties \\
      --consumer .exchange-dev/credentials/agencies/social-services.properties

Exit status 0 when every record was acknowledged and, with --expect N, N
deliveries of this run were read; 1 with {"error": ...} on stdout otherwise.
Only the standard library, confluent-kafka and fastavro are used.
"""

import argparse
import datetime
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RECORDS = os.path.join(HERE, "..", "examples", "records", "health.immunisations.jsonl")


class Failure(Exception):
    """A step failed; the message says which and why (never a secret)."""


def read_properties(path):
    """Parses a Java-style properties file: key=value or key: value lines,
    # and ! comments, backslash escapes of the separators."""
    props = {}
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line[0] in "#!":
                continue
            key, value, i = [], None, 0
            while i < len(line):
                c = line[i]
                if c == "\\" and i + 1 < len(line):
                    key.append(line[i + 1])
                    i += 2
                    continue
                if c in "=:":
                    value = line[i + 1:]
                    break
                key.append(c)
                i += 1
            if value is None:
                raise Failure(f"{path}:{n}: not a key=value line")
            props["".join(key).strip()] = unescape(value.strip())
    return props


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def split_properties(props, path):
    """Splits a client properties file into the librdkafka configuration and
    the SchemaRegistryClient configuration."""
    kafka, registry = {}, {}
    for key, value in props.items():
        if key == "schema.registry.url":
            registry["url"] = value
        elif key in ("basic.auth.user.info", "schema.registry.basic.auth.user.info"):
            registry["basic.auth.user.info"] = value
        elif key in ("basic.auth.credentials.source", "schema.registry.basic.auth.credentials.source"):
            # The Python registry client has no such key: USER_INFO is what
            # it does when basic.auth.user.info is set.
            if value != "USER_INFO":
                raise Failure(f"{path}: {key}={value}: only USER_INFO is supported here")
        elif key.startswith("schema.registry."):
            registry[key[len("schema.registry."):]] = value
        else:
            kafka[key] = value
    if "url" not in registry:
        raise Failure(f"{path}: no schema.registry.url")
    if "bootstrap.servers" not in kafka:
        raise Failure(f"{path}: no bootstrap.servers")
    return kafka, registry


def agency_of(props, path):
    """The agency a properties file authenticates as: its SASL user, else its
    registry user, else the file name (<agency>.properties)."""
    if props.get("sasl.username"):
        return props["sasl.username"]
    info = props.get("basic.auth.user.info", "")
    if ":" in info:
        return info.split(":", 1)[0]
    return os.path.basename(path).split(".properties")[0]


def to_avro(schema, value):
    """Converts a JSON value to what fastavro writes for schema: ISO dates and
    RFC 3339 timestamps become date and datetime objects, recursively."""
    if value is None:
        return None
    if isinstance(schema, list):
        for branch in schema:
            if branch != "null":
                return to_avro(branch, value)
        return value
    if not isinstance(schema, dict):
        return value
    kind, logical = schema.get("type"), schema.get("logicalType")
    if isinstance(kind, (dict, list)):
        return to_avro(kind, value)
    if isinstance(value, str) and logical == "date":
        return datetime.date.fromisoformat(value)
    if isinstance(value, str) and logical in ("timestamp-millis", "timestamp-micros"):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "record" and isinstance(value, dict):
        return {f["name"]: to_avro(f["type"], value.get(f["name"])) for f in schema["fields"]}
    if kind == "array":
        return [to_avro(schema["items"], v) for v in value]
    if kind == "map":
        return {k: to_avro(schema["values"], v) for k, v in value.items()}
    return value


def load_records(path, count, schema, stamp_field, run):
    """The first count records of a JSON-lines file (repeated when it has
    fewer), each record_id suffixed with the run tag so this run's deliveries
    are told apart from earlier ones, stamp_field set to now."""
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if not lines:
        raise Failure(f"{path}: no records")
    out = []
    for i in range(count or len(lines)):
        rec = dict(lines[i % len(lines)])
        if "record_id" in rec:
            rec["record_id"] = f"{rec['record_id']}.{run}.{i}"
        rec = to_avro(schema, rec)
        if stamp_field:
            if stamp_field not in rec:
                raise Failure(f"--stamp-now {stamp_field}: not a field of the records")
            rec[stamp_field] = datetime.datetime.now(datetime.timezone.utc)
        out.append(rec)
    return out


class ErrorLog:
    """Collects librdkafka's errors; an authentication or authorization
    failure is fatal at once (a retry cannot fix credentials)."""

    FATAL = {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    }

    def __init__(self, who):
        self.who, self.errors = who, []

    def __call__(self, err):
        self.errors.append(str(err))
        # A broker may also refuse a SASL handshake by closing the connection
        # (librdkafka then reports a transport error that names SASL).
        if err.code() in self.FATAL or err.fatal() or "SASL authentication error" in err.str():
            raise Failure(f"{self.who}: {err.str()}")


def produce(args, kafka, registry, run):
    sr = SchemaRegistryClient(registry)
    topic = f"ingress.{args.dataset}"
    subject = f"{topic}-value"
    try:
        latest = sr.get_latest_version(subject)
    except Exception as e:  # the registry client raises several kinds
        raise Failure(f"registry: latest schema of {subject}: {e}") from e
    schema = json.loads(latest.schema.schema_str)
    records = load_records(args.records, args.count, schema, args.stamp_now, run)
    serialize = AvroSerializer(sr, conf={"auto.register.schemas": False, "use.latest.version": True})

    errors = ErrorLog("producer")
    producer = Producer({**kafka, "error_cb": errors, "client.id": f"interop-{run}"})
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(str(err))

    ctx = SerializationContext(topic, MessageField.VALUE)
    for rec in records:
        producer.produce(topic, key=str(rec.get("record_id", "")).encode(), value=serialize(rec, ctx), on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(args.timeout)
    if failed:
        raise Failure(f"producer: {len(failed)} of {len(records)} records refused: {failed[0]}")
    if left:
        raise Failure(f"producer: {left} of {len(records)} records not acknowledged within {args.timeout}s"
                      + (f" (last error: {errors.errors[-1]})" if errors.errors else ""))
    return topic, latest.schema_id, [r.get("record_id") for r in records]


def consume(args, kafka, registry, agency, run, produced_ids):
    sr = SchemaRegistryClient(registry)
    deserialize = AvroDeserializer(sr)
    topic = f"deliver.{agency}.{args.agreement}"
    errors = ErrorLog("consumer")
    consumer = Consumer({
        **kafka,
        # The ACLs let an agency use consumer groups named with its prefix.
        "group.id": f"{agency}.interop-{run}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": errors,
    })
    wanted = set(produced_ids)
    values, others = [], 0
    deadline = time.monotonic() + args.timeout
    idle_until = None
    try:
        consumer.subscribe([topic])
        while time.monotonic() < deadline:
            if args.expect is not None and len(values) >= args.expect:
                break
            if args.expect is None and idle_until is not None and time.monotonic() > idle_until:
                break
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise Failure(f"consumer: {topic}: {msg.error()}")
            value = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE, msg.headers()))
            if value is None or value.get("record_id") not in wanted:
                others += 1  # an earlier run's delivery
                continue
            values.append(value)
            idle_until = time.monotonic() + args.idle
    except KafkaException as e:
        raise Failure(f"consumer: {topic}: {e}") from e
    finally:
        consumer.close()
    if args.expect is not None and len(values) < args.expect:
        raise Failure(f"consumer: {topic}: {len(values)} of {args.expect} expected deliveries within {args.timeout}s"
                      + (f" (last error: {errors.errors[-1]})" if errors.errors else ""))
    return topic, values, others


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--producer", required=True, help="properties file of the publishing agency")
    p.add_argument("--consumer", help="properties file of the consuming agency (omit to only produce)")
    p.add_argument("--dataset", default="health.immunisations", help="dataset published to (topic ingress.DATASET)")
    p.add_argument("--agreement", default="health-to-social-2026-001", help="agreement whose delivery topic is read")
    p.add_argument("--records", default=DEFAULT_RECORDS, help="JSON-lines sample records")
    p.add_argument("--count", type=int, default=0, help="records to produce (default: every line of --records)")
    p.add_argument("--stamp-now", default="administered_at", help="timestamp field set to now ('' for none)")
    p.add_argument("--expect", type=int, help="deliveries of this run to wait for (default: until --idle)")
    p.add_argument("--idle", type=float, default=5.0, help="seconds without a new delivery that end the read")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds each of produce and consume may take")
    args = p.parse_args()

    run = uuid.uuid4().hex[:8]
    try:
        props = read_properties(args.producer)
        kafka, registry = split_properties(props, args.producer)
        topic_in, schema_id, ids = produce(args, kafka, registry, run)
        summary = {"run": run, "producer": agency_of(props, args.producer), "ingress_topic": topic_in,
                   "schema_id": schema_id, "produced": len(ids), "record_ids": ids}
        if args.consumer:
            cprops = read_properties(args.consumer)
            ckafka, cregistry = split_properties(cprops, args.consumer)
            agency = agency_of(cprops, args.consumer)
            topic_out, values, others = consume(args, ckafka, cregistry, agency, run, ids)
            summary.update({
                "consumer": agency, "delivery_topic": topic_out, "consumed": len(values),
                "skipped_earlier_runs": others,
                "sample_fields": sorted(values[0]) if values else [],
                "values": values,
            })
    except Failure as e:
        json.dump({"error": str(e)}, sys.stdout)
        print()
        return 1
    json.dump(summary, sys.stdout, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
