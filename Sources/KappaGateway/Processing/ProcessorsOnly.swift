import KappaLog
import KappaMQTT
import KappaStream
import Logging
import ServiceLifecycle
import KappaStorage

/// `kappa process`: the processors over a log on disk, without the bridge (crash tests, catching up a database).
public enum ProcessorsOnly {
    /// The services to run, in start order: the alert publisher (when `alertMQTT` names a broker), then the
    /// processors of `roles`. Starts nothing.
    public static func services(
        roles: [ProcessorRole], log: DiskLog, database: KappaDatabase, tuning: ProcessorTuning,
        alertMQTT: String?, alertTopic: String, logger: Logger
    ) throws -> [any Service] {
        var services: [any Service] = []
        var alertSink: MQTTAlertSink?
        if let alertMQTT {
            var mqtt = try MQTTConfiguration(url: alertMQTT)
            mqtt.cleanSession = true
            let client = try MQTTClient.make(configuration: mqtt, logger: logger)
            // First in the group, so stopped last, after the processors' final checkpoint; the service
            // disconnects off the cooperative pool.
            services.append(MQTTClientService(client: client))
            alertSink = MQTTAlertSink(client: client, topicTemplate: alertTopic, logger: logger)
        }
        services += try ProcessorSet.make(
            roles: roles, log: log, database: database.configuration, schema: database.schema,
            configuration: tuning.configuration, status: ProcessorStatus(), alertSink: alertSink, logger: logger
        )
        return services
    }
}
