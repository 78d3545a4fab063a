import KappaStorage

/// Every setting of `kappa run`, in the order `kappa config show` and `deploy/kappa.example.yaml` list them.
///
/// Precedence is flag, then environment variable, then the configuration file, then the default.
public enum GatewaySettingsCatalog {
    public static let config = Setting("config", flag: "--config", environment: "KAPPA_CONFIG", "The YAML configuration file (read before everything else; not a key in the file).")

    public static let mqttURL = Setting("mqtt.url", flag: "--mqtt", environment: "KAPPA_MQTT", default: "mqtt://127.0.0.1:1883", "Broker URL mqtt://[user@]host[:port], or mqtts://… for TLS.")
    public static let mqttUsername = Setting("mqtt.username", flag: "--mqtt-username", environment: "KAPPA_MQTT_USERNAME", "Broker user name (overrides one in the URL).")
    public static let mqttPassword = Setting("mqtt.password", flag: nil, environment: "KAPPA_MQTT_PASSWORD", secret: true, "Broker password; only from the environment (or a password file).")
    public static let mqttPasswordFile = Setting("mqtt.password_file", flag: "--mqtt-password-file", environment: "KAPPA_MQTT_PASSWORD_FILE", "File whose first line is the broker password.")
    public static let mqttClientID = Setting("mqtt.client_id", flag: "--client-id", environment: "KAPPA_MQTT_CLIENT_ID", default: "kappa-gateway", "Client id; keep it fixed so the broker keeps the session across restarts.")
    public static let mqttShareGroup = Setting("mqtt.share_group", flag: "--share-group", environment: "KAPPA_MQTT_SHARE_GROUP", "Share the subscriptions with other gateways as $share/<group>/… (each needs its own client id).")
    public static let mqttQoS = Setting("mqtt.qos", flag: "--qos", environment: "KAPPA_MQTT_QOS", default: "1", "Subscription QoS, 1 or 2 (QoS 0 would lose messages on a crash).")
    public static let mqttProtocol = Setting("mqtt.protocol", flag: "--mqtt-protocol", environment: "KAPPA_MQTT_PROTOCOL", default: "3.1.1", "MQTT protocol version, 3.1.1 or 5.")
    public static let mqttKeepalive = Setting("mqtt.keepalive_seconds", flag: "--mqtt-keepalive-seconds", environment: "KAPPA_MQTT_KEEPALIVE_SECONDS", default: "30", "Seconds between keepalive pings.")
    public static let mqttTLSCA = Setting("mqtt.tls.ca_file", flag: "--mqtt-tls-ca", environment: "KAPPA_MQTT_TLS_CA", "CA certificate (PEM) that signed the broker's certificate; turns TLS on (mqtts:// alone uses the system's CAs).")
    public static let mqttTLSCertificate = Setting("mqtt.tls.cert_file", flag: "--mqtt-tls-cert", environment: "KAPPA_MQTT_TLS_CERT", "Client certificate (PEM) for brokers that require one.")
    public static let mqttTLSKey = Setting("mqtt.tls.key_file", flag: "--mqtt-tls-key", environment: "KAPPA_MQTT_TLS_KEY", "Private key (PEM) of the client certificate.")
    public static let topics = Setting("topics", flag: "--topic", environment: "KAPPA_TOPICS", default: "devices/{device}/telemetry=json,devices/{device}/{metric}=number", list: true, "Topic templates and their payload formats (json, number, line_protocol; line_protocol+device_tag lets the lines' device tag name the device).")
    public static let sparkplug = Setting("sparkplug", flag: "--sparkplug", environment: "KAPPA_SPARKPLUG", default: "false", "Also subscribe spBv1.0/# and decode Sparkplug B there: births, aliases, data, rebirth requests (docs/sparkplug.md).")
    public static let sparkplugHostID = Setting("sparkplug_host_id", flag: "--sparkplug-host-id", environment: "KAPPA_SPARKPLUG_HOST_ID", default: "kappa", "With Sparkplug on, the primary host id kappa announces in spBv1.0/STATE/{id} (retained birth, will as death); one topic level, no / + #.")

    public static let dataDirectory = Setting("data_dir", flag: "--data-dir", environment: "KAPPA_DATA_DIR", default: "./data", "Directory of the partitioned log.")
    public static let logURL = Setting("log.url", flag: "--log", environment: "KAPPA_LOG", "Where the log lives: empty for the embedded log in data_dir, or nats://host:port[,host:port…] for a NATS JetStream cluster.")
    public static let logReplicas = Setting("log.replicas", flag: "--log-replicas", environment: "KAPPA_LOG_REPLICAS", default: "3", "Copies JetStream keeps of each partition (1, 3 or 5); only with a nats:// log.")
    public static let natsUser = Setting("log.nats.user", flag: "--nats-user", environment: "KAPPA_NATS_USER", "NATS user name, with log.nats.password_file or KAPPA_NATS_PASSWORD; only with a nats:// log.")
    public static let natsPassword = Setting("log.nats.password", flag: nil, environment: "KAPPA_NATS_PASSWORD", secret: true, "NATS password; only from the environment (or a password file).")
    public static let natsPasswordFile = Setting("log.nats.password_file", flag: "--nats-password-file", environment: "KAPPA_NATS_PASSWORD_FILE", "File whose first line is the NATS password.")
    public static let natsToken = Setting("log.nats.token", flag: nil, environment: "KAPPA_NATS_TOKEN", secret: true, "NATS authentication token; only from the environment (or a token file).")
    public static let natsTokenFile = Setting("log.nats.token_file", flag: "--nats-token-file", environment: "KAPPA_NATS_TOKEN_FILE", "File whose first line is the NATS authentication token.")
    public static let natsCredentials = Setting("log.nats.creds_file", flag: "--nats-creds", environment: "KAPPA_NATS_CREDS", "NATS credentials file (user JWT and NKey seed, as nsc writes it).")
    public static let natsTLSCA = Setting("log.nats.tls.ca_file", flag: "--nats-tls-ca", environment: "KAPPA_NATS_TLS_CA", "CA certificate (PEM) that signed the NATS servers' certificates; turns TLS on.")
    public static let natsTLSCertificate = Setting("log.nats.tls.cert_file", flag: "--nats-tls-cert", environment: "KAPPA_NATS_TLS_CERT", "Client certificate (PEM) for NATS servers that verify clients.")
    public static let natsTLSKey = Setting("log.nats.tls.key_file", flag: "--nats-tls-key", environment: "KAPPA_NATS_TLS_KEY", "Private key (PEM) of the NATS client certificate.")
    public static let natsStartupWait = Setting("log.nats.startup_wait_seconds", flag: "--nats-startup-wait", environment: "KAPPA_NATS_STARTUP_WAIT_SECONDS", default: "60", "Seconds a start waits for the NATS cluster to answer (it retries meanwhile) before giving up.")
    public static let logPartitions = Setting("log.partitions", flag: "--partitions", environment: "KAPPA_PARTITIONS", default: "8", "Partitions of a new readings stream (fixed once created).")
    public static let logFsync = Setting("log.fsync", flag: "--fsync", environment: "KAPPA_FSYNC", default: "interval", "When the log fsyncs: interval (every 100 ms), always (group commit) or never.")
    public static let logDiskFloor = Setting("log.disk_floor_mb", flag: "--disk-floor-mb", environment: "KAPPA_DISK_FLOOR_MB", default: "256", "Free disk (MiB) below which intake pauses.")
    public static let logRetention = Setting("log.retention_hours", flag: "--log-retention-hours", environment: "KAPPA_LOG_RETENTION_HOURS", default: "168", "Closed log segments older than this are deleted.")

    public static let database = Setting("database.url", flag: "--database", environment: "KAPPA_DATABASE", "PostgreSQL URL or conninfo without a password (else libpq's PG* variables).")
    public static let databasePasswordFile = Setting("database.password_file", flag: "--password-file", environment: "KAPPA_DATABASE_PASSWORD_FILE", "File whose first line is the database password (PGPASSWORD and ~/.pgpass work too).")
    public static let databaseSchema = Setting("database.schema", flag: "--schema", environment: "KAPPA_SCHEMA", default: "kappa", "Schema of kappa's tables and views.")
    public static let databaseSSLMode = Setting("database.sslmode", flag: "--database-sslmode", environment: "KAPPA_DATABASE_SSLMODE", "libpq sslmode: disable, allow, prefer, require, verify-ca or verify-full.")
    public static let databaseSSLRootCert = Setting("database.sslrootcert", flag: "--database-sslrootcert", environment: "KAPPA_DATABASE_SSLROOTCERT", "CA certificate (PEM) that signed the server's certificate (libpq sslrootcert).")
    public static let databaseApplicationName = Setting("database.application_name", flag: "--application-name", environment: "KAPPA_DATABASE_APPLICATION_NAME", default: "kappa", "application_name PostgreSQL shows for kappa's sessions (pg_stat_activity).")
    public static let databaseConnectTimeout = Setting("database.connect_timeout_seconds", flag: "--connect-timeout", environment: "KAPPA_DATABASE_CONNECT_TIMEOUT", default: "10", "Seconds to wait for PostgreSQL to answer when connecting.")
    public static let databaseMigrate = Setting("database.migrate", flag: "--migrate", environment: "KAPPA_MIGRATE", default: "true", "Migrate the schema on start (false: run `kappa db migrate` yourself).")

    public static let roles = Setting("roles", flag: "--roles", environment: "KAPPA_ROLES", default: (["bridge"] + ProcessorCatalog.builtIn.map(\.name)).joined(separator: ","), list: true, "Which parts run in this process.")
    public static let http = Setting("http", flag: "--http", environment: "KAPPA_HTTP", default: "127.0.0.1:9464", "Address of /metrics, /healthz and /readyz.")
    public static let readyMaxLag = Setting("ready_max_lag_records", flag: "--ready-max-lag", environment: "KAPPA_READY_MAX_LAG", default: "100000", "Records of processor lag above which /readyz reports not ready.")
    public static let processorNice = Setting("processors.nice", flag: "--processor-nice", environment: "KAPPA_PROCESSOR_NICE", default: "10", "Nice value (0-19) of the processor threads; 0 turns it off.")
    public static let rollupWidths = Setting("processors.rollup_widths", flag: "--rollup-widths", environment: "KAPPA_ROLLUP_WIDTHS", default: "1m,1h,1d", list: true, "Rollup bucket widths (30s … 366d), each with its view kappa.rollups_<width>; fixed per rollups output version: changing them needs a replay into a new one (README, Rollup widths).")
    public static let seriesIdle = Setting("processors.series_idle_seconds", flag: "--series-idle-seconds", environment: "KAPPA_SERIES_IDLE_SECONDS", default: "600", "Seconds a series may stay silent before the processors' state for it leaves memory (read back from the checkpoint when it returns); 0 keeps every series.")
    public static let rollupRetention = Setting("processors.rollup_retention", flag: "--rollup-retention", environment: "KAPPA_ROLLUP_RETENTION", default: "1m=30d,1h=400d,1d=forever", list: true, "How long each width's rollups are kept, as width=duration or width=forever; widths not named: under 1h 30d, under 1d 400d, else forever. Whole partitions are dropped.")
    public static let rollupTagColumns = Setting("processors.rollup_tag_columns", flag: "--tag-columns", environment: "KAPPA_TAG_COLUMNS", list: true, "Tag keys (topic template parts, payload mapping tags) shown as columns of kappa.series and every rollup view, e.g. site,line.")
    public static let archiveRetention = Setting("processors.archive_retention", flag: "--archive-retention", environment: "KAPPA_ARCHIVE_RETENTION", default: "30d", "How long raw readings stay in kappa.readings (day partitions dropped), or forever.")
    public static let deadLetterRetention = Setting("processors.dead_letter_retention", flag: "--dead-letter-retention", environment: "KAPPA_DEAD_LETTER_RETENTION", default: "30d", "How long dead letters stay in kappa.dead_letters (day partitions dropped), or forever.")
    public static let logLevel = Setting("log_level", flag: "--log-level", environment: "KAPPA_LOG_LEVEL", default: "info", "trace, debug, info, notice, warning, error or critical.")
    public static let logFormat = Setting("log_format", flag: "--log-format", environment: "KAPPA_LOG_FORMAT", default: "text", "text, or json (one object a line, for log shippers).")

    public static let alertTopic = Setting("alerts.topic", flag: "--alert-topic", environment: "KAPPA_ALERT_TOPIC", default: "alerts/{device}/{metric}", "MQTT topic of anomaly alerts ({device}, {metric}, {detector}, {severity}); empty turns MQTT alerts off.")
    public static let alertWebhook = Setting("alerts.webhook_url", flag: "--alert-webhook", environment: "KAPPA_ALERT_WEBHOOK", "http:// URL that receives each new anomaly episode as a JSON POST.")
    public static let alertWebhookFormat = Setting("alerts.webhook_format", flag: "--alert-webhook-format", environment: "KAPPA_ALERT_WEBHOOK_FORMAT", default: "json", "json (one episode a request) or alertmanager (Prometheus Alertmanager's /api/v2/alerts).")

    /// The `anomaly:` section of the file: detector settings (see `deploy/kappa.example.yaml`).
    public static let anomaly = Setting("anomaly", flag: "--anomaly-config", environment: "KAPPA_ANOMALY_CONFIG", "Detector settings: defaults and per-metric overrides (a YAML mapping in the file; flag and variable name a JSON or YAML file of the same shape).")

    public static let all: [Setting] = [
        config,
        mqttURL, mqttUsername, mqttPassword, mqttPasswordFile, mqttClientID, mqttShareGroup, mqttQoS, mqttProtocol,
        mqttKeepalive, mqttTLSCA, mqttTLSCertificate, mqttTLSKey, topics, sparkplug, sparkplugHostID,
        dataDirectory, logURL, logReplicas, natsUser, natsPassword, natsPasswordFile, natsToken, natsTokenFile, natsCredentials,
        natsTLSCA, natsTLSCertificate, natsTLSKey, natsStartupWait, logPartitions, logFsync, logDiskFloor, logRetention,
        database, databasePasswordFile, databaseSchema, databaseSSLMode, databaseSSLRootCert, databaseApplicationName,
        databaseConnectTimeout, databaseMigrate,
        roles, http, readyMaxLag, processorNice, rollupWidths, seriesIdle, rollupRetention, rollupTagColumns,
        archiveRetention, deadLetterRetention, logLevel, logFormat,
        alertTopic, alertWebhook, alertWebhookFormat,
        anomaly,
    ]

    /// The settings a file may hold (all but `config` itself).
    public static var fileKeys: [Setting] { all.filter { $0 != config } }
}
