import ArgumentParser
import KappaGateway
import KappaPostgres

/// The options of `kappa run` beyond intake and the log: the database, the processors, alerts and the
/// endpoints. Shared with `kappa config show`, which resolves them the same way without running anything.
struct RunOptions: ParsableArguments {
    typealias Key = GatewaySettingsCatalog

    @OptionGroup var gateway: GatewayOptions

    @OptionGroup var logLocation: LogLocationOptions

    @Option(help: help(Key.database, "url"))
    var database: String?

    @Option(help: help(Key.databasePasswordFile, "path"))
    var passwordFile: String?

    @Option(help: help(Key.databaseSchema, "name"))
    var schema: String?

    @Option(name: .customLong("database-sslmode"), help: help(Key.databaseSSLMode, "mode"))
    var databaseSSLMode: String?

    @Option(name: .customLong("database-sslrootcert"), help: help(Key.databaseSSLRootCert, "path"))
    var databaseSSLRootCert: String?

    @Option(help: help(Key.databaseApplicationName, "name"))
    var applicationName: String?

    @Option(help: help(Key.databaseConnectTimeout, "seconds"))
    var connectTimeout: String?

    @Flag(inversion: .prefixedNo, help: ArgumentHelp("Migrate the schema on start; --no-migrate leaves it to `kappa db migrate`. Env: KAPPA_MIGRATE. Default: true."))
    var migrate: Bool?

    @Option(help: help(Key.roles, "roles"))
    var roles: String?

    @Option(help: help(Key.alertTopic, "template"))
    var alertTopic: String?

    @Option(help: help(Key.alertWebhook, "url"))
    var alertWebhook: String?

    @Option(help: help(Key.alertWebhookFormat, "format"))
    var alertWebhookFormat: String?

    @Option(help: help(Key.anomaly, "path"))
    var anomalyConfig: String?

    @Option(help: help(Key.readyMaxLag, "records"))
    var readyMaxLag: String?

    @Option(help: help(Key.processorNice, "n"))
    var processorNice: String?

    @Option(help: help(Key.rollupWidths, "widths"))
    var rollupWidths: String?

    @Option(help: help(Key.seriesIdle, "seconds"))
    var seriesIdleSeconds: String?
    @Option(help: help(Key.rollupRetention, "width=duration,…"))
    var rollupRetention: String?

    @Option(help: help(Key.rollupTagColumns, "keys"))
    var tagColumns: String?

    @Option(help: help(Key.archiveRetention, "duration"))
    var archiveRetention: String?

    @Option(help: help(Key.deadLetterRetention, "duration"))
    var deadLetterRetention: String?

    @Option(help: help(Key.http, "host:port"))
    var http: String?

    func validate() throws {
        if let database {
            // As libpq reads it: `password = x`, quoted values and percent-encoded URL parameters all count.
            if (try? PostgresConfiguration.carriesPassword(database)) ?? false {
                throw ValidationError("Do not put the database password on the command line: use --password-file, PGPASSWORD or ~/.pgpass.")
            }
        }
    }

    var flags: [Setting: [String]] {
        var flags = gateway.flags.merging(logLocation.flags) { first, _ in first }
        flags[Key.database] = database.map { [$0] }
        flags[Key.databasePasswordFile] = passwordFile.map { [$0] }
        flags[Key.databaseSchema] = schema.map { [$0] }
        flags[Key.databaseSSLMode] = databaseSSLMode.map { [$0] }
        flags[Key.databaseSSLRootCert] = databaseSSLRootCert.map { [$0] }
        flags[Key.databaseApplicationName] = applicationName.map { [$0] }
        flags[Key.databaseConnectTimeout] = connectTimeout.map { [$0] }
        flags[Key.databaseMigrate] = migrate.map { [$0 ? "true" : "false"] }
        flags[Key.roles] = roles.map { $0.split(separator: ",").map { String($0) } }
        flags[Key.alertTopic] = alertTopic.map { [$0] }
        flags[Key.alertWebhook] = alertWebhook.map { [$0] }
        flags[Key.alertWebhookFormat] = alertWebhookFormat.map { [$0] }
        flags[Key.anomaly] = anomalyConfig.map { [$0] }
        flags[Key.readyMaxLag] = readyMaxLag.map { [$0] }
        flags[Key.processorNice] = processorNice.map { [$0] }
        flags[Key.rollupWidths] = rollupWidths.map { $0.split(separator: ",").map { String($0) } }
        flags[Key.seriesIdle] = seriesIdleSeconds.map { [$0] }
        flags[Key.rollupRetention] = rollupRetention.map { $0.split(separator: ",").map { String($0) } }
        flags[Key.rollupTagColumns] = tagColumns.map { $0.split(separator: ",").map { String($0) } }
        flags[Key.archiveRetention] = archiveRetention.map { [$0] }
        flags[Key.deadLetterRetention] = deadLetterRetention.map { [$0] }
        flags[Key.http] = http.map { [$0] }
        return flags
    }
}
