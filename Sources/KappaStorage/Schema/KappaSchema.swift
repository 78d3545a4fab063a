public import KappaPostgres

/// Kappa's schema, migration by migration. Never edit a released migration: add the next one.
///
/// Output tables carry their output version in the name (`rollups_v1`); the user-facing views (`rollups_1m`,
/// `latest`, `devices`, `dead_letters`) select from the active version, so a replay into `…_v2` can switch
/// them in one transaction. `versions` records which version of each processor's output is active.
public enum KappaSchema {
    public static let defaultSchema = "kappa"

    public static let migrations: [SchemaMigration] = [
        SchemaMigration(version: 1, name: "processor offsets and output versions", sql: """
            CREATE TABLE {schema}.processor_offsets (
                processor text NOT NULL,
                output_version text NOT NULL,
                stream text NOT NULL,
                partition integer NOT NULL,
                next_offset bigint NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (processor, output_version, stream, partition)
            );
            CREATE TABLE {schema}.versions (
                processor text NOT NULL,
                version text NOT NULL,
                active boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (processor, version)
            );
            CREATE UNIQUE INDEX versions_one_active ON {schema}.versions (processor) WHERE active;
            INSERT INTO {schema}.versions (processor, version, active) VALUES
                ('rollups', 'v1', true), ('devices', 'v1', true), ('archive', 'v1', true), ('dead-letters', 'v1', true);
            CREATE TABLE {schema}.settings (
                name text PRIMARY KEY,
                value text NOT NULL
            );
            INSERT INTO {schema}.settings (name, value) VALUES ('device_offline_after_seconds', '300');
            """),
        SchemaMigration(version: 2, name: "rollups", sql: """
            CREATE TABLE {schema}.rollups_v1 (
                device text NOT NULL,
                metric text NOT NULL,
                width_seconds integer NOT NULL,
                bucket timestamptz NOT NULL,
                count bigint NOT NULL,
                sum double precision NOT NULL,
                min double precision NOT NULL,
                max double precision NOT NULL,
                mean double precision NOT NULL,
                m2 double precision NOT NULL,
                first_value double precision NOT NULL,
                first_time timestamptz NOT NULL,
                last_value double precision NOT NULL,
                last_time timestamptz NOT NULL,
                late bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (device, metric, width_seconds, bucket)
            );
            CREATE INDEX rollups_v1_by_bucket ON {schema}.rollups_v1 (width_seconds, bucket);
            CREATE TABLE {schema}.rollup_series_v1 (
                device text NOT NULL,
                metric text NOT NULL,
                watermark timestamptz NOT NULL,
                PRIMARY KEY (device, metric)
            );
            CREATE VIEW {schema}.rollups_1m AS
                SELECT device, metric, bucket, count, sum, min, max, mean,
                       CASE WHEN count > 1 THEN sqrt(greatest(m2, 0) / (count - 1)) END AS stddev,
                       first_value, first_time, last_value, last_time, late
                FROM {schema}.rollups_v1 WHERE width_seconds = 60;
            CREATE VIEW {schema}.rollups_1h AS
                SELECT device, metric, bucket, count, sum, min, max, mean,
                       CASE WHEN count > 1 THEN sqrt(greatest(m2, 0) / (count - 1)) END AS stddev,
                       first_value, first_time, last_value, last_time, late
                FROM {schema}.rollups_v1 WHERE width_seconds = 3600;
            CREATE VIEW {schema}.rollups_1d AS
                SELECT device, metric, bucket, count, sum, min, max, mean,
                       CASE WHEN count > 1 THEN sqrt(greatest(m2, 0) / (count - 1)) END AS stddev,
                       first_value, first_time, last_value, last_time, late
                FROM {schema}.rollups_v1 WHERE width_seconds = 86400;
            """),
        SchemaMigration(version: 3, name: "device registry", sql: """
            CREATE TABLE {schema}.devices_v1 (
                device text PRIMARY KEY,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                readings bigint NOT NULL,
                tags jsonb NOT NULL DEFAULT '{}'
            );
            CREATE INDEX devices_v1_by_last_seen ON {schema}.devices_v1 (last_seen);
            CREATE TABLE {schema}.device_metrics_v1 (
                device text NOT NULL,
                metric text NOT NULL,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                readings bigint NOT NULL,
                last_value double precision NOT NULL,
                PRIMARY KEY (device, metric)
            );
            CREATE VIEW {schema}.devices AS
                SELECT d.device, d.first_seen, d.last_seen, d.readings,
                       CASE WHEN d.last_seen >= now() - make_interval(secs => coalesce(
                                (SELECT value::double precision FROM {schema}.settings WHERE name = 'device_offline_after_seconds'), 300))
                            THEN 'online' ELSE 'offline' END AS status,
                       d.tags
                FROM {schema}.devices_v1 d;
            CREATE VIEW {schema}.device_metrics AS
                SELECT device, metric, first_seen, last_seen, readings, last_value FROM {schema}.device_metrics_v1;
            CREATE VIEW {schema}.latest AS
                SELECT device, metric, last_seen AS time, last_value AS value FROM {schema}.device_metrics_v1;
            """),
        SchemaMigration(version: 4, name: "raw archive and dead letters", sql: """
            CREATE TABLE {schema}.readings_v1 (
                device text NOT NULL,
                metric text NOT NULL,
                time timestamptz NOT NULL,
                value double precision NOT NULL,
                time_source smallint NOT NULL,
                tags jsonb,
                PRIMARY KEY (device, metric, time, value)
            ) PARTITION BY RANGE (time);
            CREATE INDEX readings_v1_by_time ON {schema}.readings_v1 (time);
            CREATE VIEW {schema}.readings AS
                SELECT device, metric, time, value, tags FROM {schema}.readings_v1;
            CREATE TABLE {schema}.dead_letters_v1 (
                log_partition integer NOT NULL,
                log_offset bigint NOT NULL,
                received_at timestamptz NOT NULL,
                topic text NOT NULL,
                payload bytea NOT NULL,
                reason text NOT NULL,
                message text NOT NULL,
                PRIMARY KEY (log_partition, log_offset)
            );
            CREATE INDEX dead_letters_v1_by_time ON {schema}.dead_letters_v1 (received_at);
            CREATE VIEW {schema}.dead_letters AS
                SELECT received_at, topic, payload, reason, message FROM {schema}.dead_letters_v1;
            """),
        SchemaMigration(version: 5, name: "anomalies", sql: """
            CREATE TABLE {schema}.anomalies_v1 (
                device text NOT NULL,
                metric text NOT NULL,
                detector text NOT NULL,
                start_time timestamptz NOT NULL,
                detected_at timestamptz NOT NULL,
                end_time timestamptz,
                peak_score double precision NOT NULL,
                value double precision,
                expected_low double precision,
                expected_high double precision,
                severity text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (device, metric, detector, start_time)
            );
            CREATE INDEX anomalies_v1_by_start ON {schema}.anomalies_v1 (start_time);
            CREATE INDEX anomalies_v1_open ON {schema}.anomalies_v1 (device, metric) WHERE end_time IS NULL;
            CREATE TABLE {schema}.anomaly_state_v1 (
                partition integer PRIMARY KEY,
                snapshot bytea NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            INSERT INTO {schema}.versions (processor, version, active) VALUES ('anomalies', 'v1', true);
            CREATE VIEW {schema}.anomalies AS
                SELECT device, metric, start_time, end_time, detector, peak_score, value, expected_low, expected_high, severity
                FROM {schema}.anomalies_v1;
            CREATE VIEW {schema}.open_anomalies AS
                SELECT device, metric, start_time, detector, peak_score, value, expected_low, expected_high, severity
                FROM {schema}.anomalies_v1 WHERE end_time IS NULL;
            """),
        SchemaMigration(version: 6, name: "version states and dead-letter replays", sql: """
            ALTER TABLE {schema}.versions
                ADD COLUMN configuration jsonb NOT NULL DEFAULT '{}',
                ADD COLUMN state text NOT NULL DEFAULT 'replaying'
                    CHECK (state IN ('replaying', 'caught_up', 'active', 'retired'));
            UPDATE {schema}.versions SET state = 'active' WHERE active;
            CREATE TABLE {schema}.dead_letter_replays (
                log_partition integer NOT NULL,
                log_offset bigint NOT NULL,
                claimed_at timestamptz NOT NULL DEFAULT now(),
                readings integer,
                appended_at timestamptz,
                PRIMARY KEY (log_partition, log_offset)
            );
            """),
        // An anomaly snapshot is packed binary that barely compresses; trying to at every checkpoint cost CPU.
        // New versions' tables are made LIKE the active one, INCLUDING STORAGE, so they keep this.
        // PL/pgSQL gets the schema from `SchemaMigration.schemaSetting`, never pasted into its text: the
        // first release pasted it inside a string literal, which a schema named `o'brien` broke (fixed in
        // place: the effect on every schema it ran on is the same).
        SchemaMigration(version: 7, name: "uncompressed anomaly snapshots", sql: """
            DO $$
            DECLARE state_table name;
            BEGIN
                FOR state_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_setting('kappa.migration_schema') AND c.relkind = 'r'
                      AND c.relname LIKE 'anomaly\\_state\\_%'
                LOOP
                    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN snapshot SET STORAGE EXTERNAL',
                                   current_setting('kappa.migration_schema'), state_table);
                END LOOP;
            END $$;
            """),
        // A processor never stops on a record whose output PostgreSQL refuses for its content: it sets the
        // record aside here, in the transaction that moves its offsets past it.
        SchemaMigration(version: 8, name: "records processors set aside", sql: """
            CREATE TABLE {schema}.rejected_records (
                processor text NOT NULL,
                output_version text NOT NULL,
                stream text NOT NULL,
                log_partition integer NOT NULL,
                log_offset bigint NOT NULL,
                rejected_at timestamptz NOT NULL DEFAULT now(),
                sqlstate text NOT NULL,
                error text NOT NULL,
                record bytea NOT NULL,
                PRIMARY KEY (processor, output_version, stream, log_partition, log_offset)
            );
            """),
        // The honest alarm time of a streaming detector beside its estimated onset: the views show `detected_at`
        // (appended, as CREATE OR REPLACE VIEW only allows), over whichever anomalies version is active.
        // The schema reaches PL/pgSQL as `kappa.migration_schema`, quoted with %I (it was pasted in, and a
        // schema named `o'brien` ended the format string; fixed in place, same effect where it worked).
        SchemaMigration(version: 9, name: "anomalies show detected_at", sql: """
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                episodes text;
            BEGIN
                EXECUTE format('SELECT %L || version FROM %I.versions WHERE processor = %L AND active', 'anomalies_', target_schema, 'anomalies')
                    INTO episodes;
                IF episodes IS NULL THEN episodes := 'anomalies_v1'; END IF;
                EXECUTE format('CREATE OR REPLACE VIEW %I.anomalies AS SELECT device, metric, start_time, end_time, detector, peak_score, value, expected_low, expected_high, severity, detected_at FROM %I.%I', target_schema, target_schema, episodes);
                EXECUTE format('CREATE OR REPLACE VIEW %I.open_anomalies AS SELECT device, metric, start_time, detector, peak_score, value, expected_low, expected_high, severity, detected_at FROM %I.%I WHERE end_time IS NULL', target_schema, target_schema, episodes);
            END $$;
            """),
        // A dead letter stores at most `DeadLetter.payloadCap` bytes of its payload; these say how large
        // the whole was and its SHA-256 (NULL when the payload is whole). Every version's table gets them,
        // and the view is rebuilt over whichever version is active.
        SchemaMigration(version: 10, name: "capped dead-letter payloads", sql: """
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                letters_table name;
                active_version text;
            BEGIN
                FOR letters_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND c.relname LIKE 'dead\\_letters\\_%'
                LOOP
                    EXECUTE format('ALTER TABLE %I.%I ADD COLUMN payload_size bigint, ADD COLUMN payload_sha256 bytea',
                                   target_schema, letters_table);
                    EXECUTE format('UPDATE %I.%I SET payload_size = octet_length(payload)', target_schema, letters_table);
                    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN payload_size SET NOT NULL', target_schema, letters_table);
                END LOOP;
                EXECUTE format('SELECT version FROM %I.versions WHERE processor = %L AND active', target_schema, 'dead-letters')
                    INTO active_version;
                EXECUTE format(
                    'CREATE OR REPLACE VIEW %I.dead_letters AS SELECT received_at, topic, payload, reason, message, payload_size, payload_sha256 FROM %I.%I',
                    target_schema, target_schema, 'dead_letters_' || coalesce(active_version, 'v1'));
            END $$;
            """),
        // What a device announced about itself (Sparkplug births and deaths, processor `device-status`) beside
        // what its readings say: the `devices` view shows an announced status when there is one, else the
        // offline-after rule. Rebuilt over whichever devices version is active.
        SchemaMigration(version: 11, name: "announced device status", sql: """
            CREATE TABLE {schema}.device_status_v1 (
                device text PRIMARY KEY,
                online boolean NOT NULL,
                changed_at timestamptz NOT NULL,
                log_partition integer NOT NULL,
                log_offset bigint NOT NULL
            );
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                active_version text;
            BEGIN
                EXECUTE format('SELECT version FROM %I.versions WHERE processor = %L AND active', target_schema, 'devices')
                    INTO active_version;
                EXECUTE format(
                    'CREATE OR REPLACE VIEW %I.devices AS '
                    'SELECT d.device, d.first_seen, d.last_seen, d.readings, '
                    'CASE WHEN s.online THEN ''online'' WHEN NOT s.online THEN ''offline'' '
                    'WHEN d.last_seen >= now() - make_interval(secs => coalesce('
                    '(SELECT value::double precision FROM %I.settings WHERE name = ''device_offline_after_seconds''), 300)) '
                    'THEN ''online'' ELSE ''offline'' END AS status, '
                    'd.tags FROM %I.%I d LEFT JOIN %I.device_status_v1 s ON s.device = d.device',
                    target_schema, target_schema, target_schema, 'devices_' || coalesce(active_version, 'v1'), target_schema);
            END $$;
            """),
        // Percentiles and units in the rollups (issue 17): every version's table gets the sketch of its
        // readings, the p50/p90/p99 read from it and the unit of the bucket's last reading; the views append
        // them (CREATE OR REPLACE VIEW only appends). `rollups` shows every width with its `width_seconds`:
        // the views of other widths than 1m, 1h and 1d (`rollups_5m`, made by the gateway for the widths it
        // runs with, see `RollupViews`) select from it, so activating another version rewrites only it.
        SchemaMigration(version: 12, name: "rollup percentiles, units and every width", sql: """
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                rollup_table name;
                active_table text;
                width record;
            BEGIN
                FOR rollup_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'rollups\\_%'
                LOOP
                    EXECUTE format('ALTER TABLE %I.%I ADD COLUMN unit text, ADD COLUMN sketch bytea, ADD COLUMN p50 double precision, '
                                   'ADD COLUMN p90 double precision, ADD COLUMN p99 double precision', target_schema, rollup_table);
                END LOOP;
                EXECUTE format('SELECT %L || version FROM %I.versions WHERE processor = %L AND active', 'rollups_', target_schema, 'rollups')
                    INTO active_table;
                active_table := coalesce(active_table, 'rollups_v1');
                FOR width IN SELECT * FROM (VALUES ('1m', 60), ('1h', 3600), ('1d', 86400)) AS w(label, seconds) LOOP
                    EXECUTE format(
                        'CREATE OR REPLACE VIEW %I.%I AS SELECT device, metric, bucket, count, sum, min, max, mean, '
                        'CASE WHEN count > 1 THEN sqrt(greatest(m2, 0) / (count - 1)) END AS stddev, '
                        'first_value, first_time, last_value, last_time, late, p50, p90, p99, unit FROM %I.%I WHERE width_seconds = %s',
                        target_schema, 'rollups_' || width.label, target_schema, active_table, width.seconds);
                END LOOP;
                EXECUTE format(
                    'CREATE VIEW %I.rollups AS SELECT device, metric, width_seconds, bucket, count, sum, min, max, mean, '
                    'CASE WHEN count > 1 THEN sqrt(greatest(m2, 0) / (count - 1)) END AS stddev, '
                    'first_value, first_time, last_value, last_time, late, p50, p90, p99, unit FROM %I.%I',
                    target_schema, target_schema, active_table);
            END $$;
            """),
        // Storage for a million series (issue 17): `series` names each (device, metric) once by a dense integer,
        // and every rollups version table is keyed by (series_id, width_seconds, bucket), partitioned by width
        // (LIST) and each width by bucket start (RANGE), so retention drops whole partitions per width and a
        // query for one series' last day touches its index in one or two partitions. `series` is shared by every
        // output version (an id only names a series). Existing rows move into the new layout; the views keep
        // their names and columns, now joining `series` (see `RollupViews`, `RollupPartitionLayout`: the span
        // and naming rules below are the same as the writer's, which finds partitions by their bounds).
        SchemaMigration(version: 13, name: "series dictionary and rollups partitioned by width and time", sql: """
            CREATE TABLE {schema}.series (
                id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                device text NOT NULL,
                metric text NOT NULL,
                tags jsonb NOT NULL DEFAULT '{}',
                tags_time timestamptz,
                UNIQUE (device, metric)
            );
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                old_table name;
                next_table text;
                active_table text;
                width_seconds bigint;
                width_label text;
                span bigint;
                partition_start bigint;
                suffix text;
            BEGIN
                FOR old_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'rollups\\_%'
                    ORDER BY c.relname
                LOOP
                    EXECUTE format('INSERT INTO %I.series (device, metric) SELECT DISTINCT device, metric FROM %I.%I ORDER BY 1, 2 ON CONFLICT DO NOTHING',
                                   target_schema, target_schema, old_table);
                    next_table := old_table || '_next';
                    EXECUTE format(
                        'CREATE TABLE %I.%I (series_id integer NOT NULL, width_seconds integer NOT NULL, bucket timestamptz NOT NULL, '
                        'count bigint NOT NULL, sum double precision NOT NULL, min double precision NOT NULL, max double precision NOT NULL, '
                        'mean double precision NOT NULL, m2 double precision NOT NULL, first_value double precision NOT NULL, '
                        'first_time timestamptz NOT NULL, last_value double precision NOT NULL, last_time timestamptz NOT NULL, '
                        'late bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(), unit text, sketch bytea, '
                        'p50 double precision, p90 double precision, p99 double precision, '
                        'CONSTRAINT %I PRIMARY KEY (series_id, width_seconds, bucket)) PARTITION BY LIST (width_seconds)',
                        target_schema, next_table, next_table || '_pkey');
                    EXECUTE format('CREATE INDEX %I ON %I.%I (bucket)', next_table || '_by_bucket', target_schema, next_table);
                    FOR width_seconds IN EXECUTE format('SELECT DISTINCT width_seconds FROM %I.%I ORDER BY 1', target_schema, old_table) LOOP
                        width_label := CASE WHEN width_seconds % 86400 = 0 THEN (width_seconds / 86400) || 'd'
                                            WHEN width_seconds % 3600 = 0 THEN (width_seconds / 3600) || 'h'
                                            WHEN width_seconds % 60 = 0 THEN (width_seconds / 60) || 'm'
                                            ELSE width_seconds || 's' END;
                        span := CASE WHEN width_seconds < 3600 THEN width_seconds * 1440
                                     ELSE ((2592000 + width_seconds - 1) / width_seconds) * width_seconds END;
                        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES IN (%s) PARTITION BY RANGE (bucket)',
                                       target_schema, old_table || '_' || width_label, target_schema, next_table, width_seconds);
                        FOR partition_start IN EXECUTE format(
                            'SELECT DISTINCT floor(extract(epoch FROM bucket) / %s)::bigint * %s FROM %I.%I WHERE width_seconds = %s ORDER BY 1',
                            span, span, target_schema, old_table, width_seconds)
                        LOOP
                            suffix := to_char(to_timestamp(partition_start) AT TIME ZONE 'UTC',
                                              CASE WHEN span % 86400 = 0 THEN 'YYYYMMDD' ELSE 'YYYYMMDD"_"HH24MISS' END);
                            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                                           target_schema, old_table || '_' || width_label || '_p' || suffix,
                                           target_schema, old_table || '_' || width_label,
                                           to_timestamp(partition_start), to_timestamp(partition_start + span));
                        END LOOP;
                    END LOOP;
                    EXECUTE format(
                        'INSERT INTO %I.%I (series_id, width_seconds, bucket, count, sum, min, max, mean, m2, first_value, first_time, '
                        'last_value, last_time, late, updated_at, unit, sketch, p50, p90, p99) '
                        'SELECT s.id, r.width_seconds, r.bucket, r.count, r.sum, r.min, r.max, r.mean, r.m2, r.first_value, r.first_time, '
                        'r.last_value, r.last_time, r.late, r.updated_at, r.unit, r.sketch, r.p50, r.p90, r.p99 '
                        'FROM %I.%I r JOIN %I.series s ON s.device = r.device AND s.metric = r.metric',
                        target_schema, next_table, target_schema, old_table, target_schema);
                END LOOP;
                EXECUTE format('SELECT %L || version FROM %I.versions WHERE processor = %L AND active', 'rollups_', target_schema, 'rollups')
                    INTO active_table;
                active_table := coalesce(active_table, 'rollups_v1');
                IF to_regclass(format('%I.%I', target_schema, active_table || '_next')) IS NOT NULL THEN
                    EXECUTE format(
                        'CREATE OR REPLACE VIEW %I.rollups AS SELECT s.device, s.metric, r.width_seconds, r.bucket, r.count, r.sum, r.min, r.max, r.mean, '
                        'CASE WHEN r.count > 1 THEN sqrt(greatest(r.m2, 0) / (r.count - 1)) END AS stddev, '
                        'r.first_value, r.first_time, r.last_value, r.last_time, r.late, r.p50, r.p90, r.p99, r.unit '
                        'FROM %I.%I r JOIN %I.series s ON s.id = r.series_id',
                        target_schema, target_schema, active_table || '_next', target_schema);
                    FOR width_seconds, width_label IN SELECT * FROM (VALUES (60, '1m'), (3600, '1h'), (86400, '1d')) AS w(seconds, label) LOOP
                        EXECUTE format(
                            'CREATE OR REPLACE VIEW %I.%I AS SELECT device, metric, bucket, count, sum, min, max, mean, stddev, '
                            'first_value, first_time, last_value, last_time, late, p50, p90, p99, unit FROM %I.rollups WHERE width_seconds = %s',
                            target_schema, 'rollups_' || width_label, target_schema, width_seconds);
                    END LOOP;
                END IF;
                FOR old_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'rollups\\_%'
                      AND to_regclass(format('%I.%I', target_schema, c.relname || '_next')) IS NOT NULL
                LOOP
                    EXECUTE format('DROP TABLE %I.%I', target_schema, old_table);
                    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', target_schema, old_table || '_next', old_table);
                    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, old_table || '_next_pkey', old_table || '_pkey');
                    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, old_table || '_next_by_bucket', old_table || '_by_bucket');
                END LOOP;
            END $$;
            """),
        // Dead letters are kept for a retention (`processors.dead_letter_retention`) by dropping day partitions,
        // like the archive: every version's table is partitioned by `received_at` (UTC days), which joins the key
        // (a record's receive time is part of it, so a redelivered record still conflicts with itself).
        SchemaMigration(version: 14, name: "dead letters partitioned by day", sql: """
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                old_table name;
                next_table text;
                active_version text;
                day date;
            BEGIN
                FOR old_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'dead\\_letters\\_%'
                    ORDER BY c.relname
                LOOP
                    next_table := old_table || '_next';
                    EXECUTE format(
                        'CREATE TABLE %I.%I (log_partition integer NOT NULL, log_offset bigint NOT NULL, received_at timestamptz NOT NULL, '
                        'topic text NOT NULL, payload bytea NOT NULL, reason text NOT NULL, message text NOT NULL, '
                        'payload_size bigint NOT NULL, payload_sha256 bytea, '
                        'CONSTRAINT %I PRIMARY KEY (log_partition, log_offset, received_at)) PARTITION BY RANGE (received_at)',
                        target_schema, next_table, next_table || '_pkey');
                    EXECUTE format('CREATE INDEX %I ON %I.%I (received_at)', next_table || '_by_time', target_schema, next_table);
                    FOR day IN EXECUTE format('SELECT DISTINCT (received_at AT TIME ZONE ''UTC'')::date FROM %I.%I ORDER BY 1', target_schema, old_table) LOOP
                        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                                       target_schema, old_table || '_p' || to_char(day, 'YYYYMMDD'), target_schema, next_table,
                                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
                    END LOOP;
                    EXECUTE format(
                        'INSERT INTO %I.%I (log_partition, log_offset, received_at, topic, payload, reason, message, payload_size, payload_sha256) '
                        'SELECT log_partition, log_offset, received_at, topic, payload, reason, message, payload_size, payload_sha256 FROM %I.%I',
                        target_schema, next_table, target_schema, old_table);
                END LOOP;
                EXECUTE format('SELECT version FROM %I.versions WHERE processor = %L AND active', target_schema, 'dead-letters')
                    INTO active_version;
                IF to_regclass(format('%I.%I', target_schema, 'dead_letters_' || coalesce(active_version, 'v1') || '_next')) IS NOT NULL THEN
                    EXECUTE format(
                        'CREATE OR REPLACE VIEW %I.dead_letters AS SELECT received_at, topic, payload, reason, message, payload_size, payload_sha256 FROM %I.%I',
                        target_schema, target_schema, 'dead_letters_' || coalesce(active_version, 'v1') || '_next');
                END IF;
                FOR old_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'dead\\_letters\\_%'
                      AND to_regclass(format('%I.%I', target_schema, c.relname || '_next')) IS NOT NULL
                LOOP
                    EXECUTE format('DROP TABLE %I.%I', target_schema, old_table);
                    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', target_schema, old_table || '_next', old_table);
                    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, old_table || '_next_pkey', old_table || '_pkey');
                    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, old_table || '_next_by_time', old_table || '_by_time');
                END LOOP;
            END $$;
            """),
        // The anomaly engines' state is saved as one header per partition (in `anomaly_state_<version>`) and one
        // chunk per device here, so a checkpoint rewrites only the devices that changed. Uncompressed like the
        // snapshots (migration 7): the chunks barely compress. New versions' tables are made LIKE these.
        SchemaMigration(version: 15, name: "anomaly state by device", sql: """
            DO $$
            DECLARE
                target_schema text := current_setting('kappa.migration_schema');
                state_table name;
            BEGIN
                FOR state_table IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = target_schema AND c.relkind = 'r' AND c.relname LIKE 'anomaly\\_state\\_%'
                LOOP
                    EXECUTE format(
                        'CREATE TABLE %I.%I (partition integer NOT NULL, device_slot integer NOT NULL, state bytea NOT NULL, '
                        'PRIMARY KEY (partition, device_slot))',
                        target_schema, 'anomaly_device_' || substr(state_table, 9));
                    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN state SET STORAGE EXTERNAL', target_schema, 'anomaly_device_' || substr(state_table, 9));
                END LOOP;
            END $$;
            """),
    ]
}

extension SchemaMigrator {
    /// The migrator of Kappa's schema (default `kappa`): the migrations above plus those of every processor in
    /// ``ProcessorCatalog`` (a processor added later brings its tables in its descriptor).
    public init(schema: PostgresIdentifier = PostgresIdentifier(KappaSchema.defaultSchema)) {
        self.init(schema: schema, migrations: KappaSchema.migrations + ProcessorCatalog.builtIn.flatMap(\.migrations))
    }
}
