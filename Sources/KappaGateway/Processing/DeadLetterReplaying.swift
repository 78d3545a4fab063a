import KappaCore
import KappaLog
import KappaMQTT
import KappaStream
import Logging
import KappaStorage

/// `kappa dead-letters replay`: the dead letters in the log re-decoded with the routes of `settings`.
public enum DeadLetterReplaying {
    /// Replays every dead letter not replayed before (claims are kept in `database`) into the readings
    /// stream; nil when the log has no dead letters. Needs the log to itself.
    public static func replay(settings: GatewaySettings, database: KappaDatabase, logger: Logger) async throws -> DeadLetterReplay.Summary? {
        try await database.withConnection(logger: logger) { connection in
            // Opening recovers the log (or connects to JetStream) and closing flushes it: off the cooperative pool.
            let log = try await Blocking.run {
                try GatewayLog.openForCommand(settings: settings, access: .exclusive(activity: "while replaying dead letters"), logger: logger).log
            }
            do {
                let readingPartitions = settings.readingPartitions
                let sparkplugOn = settings.bridge.sparkplug
                let streams = try await Blocking.run { () throws -> (deadLetters: any LogStream, readings: any LogStream, sparkplug: (@Sendable (DeadLetter) -> [Reading]?)?)? in
                    let names = try log.streamNames()
                    guard names.contains(KappaStreams.deadLetters) else { return nil }
                    // With Sparkplug on, its dead letters are decoded with the births the log kept.
                    let sparkplug = sparkplugOn && names.contains(KappaStreams.sparkplugLifecycle)
                        ? try SparkplugDeadLetterDecoding.decoder(lifecycle: log.openStream(named: KappaStreams.sparkplugLifecycle))
                        : nil
                    return (try log.openStream(named: KappaStreams.deadLetters), try log.openOrCreateStream(named: KappaStreams.readings, partitions: readingPartitions), sparkplug)
                }
                guard let streams else {
                    await Blocking.run { log.close() }
                    return nil
                }
                let replay = DeadLetterReplay(
                    deadLetters: streams.deadLetters, readings: streams.readings,
                    router: TopicRouter(routes: settings.bridge.routes), decoder: PayloadDecoder(), sparkplug: streams.sparkplug,
                    schema: database.schema
                )
                let summary = try await replay.run(connection)
                await Blocking.run { log.close() }
                return summary
            } catch {
                await Blocking.run { log.close() }
                throw error
            }
        }
    }
}
