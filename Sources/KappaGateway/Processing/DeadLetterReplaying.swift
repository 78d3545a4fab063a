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
            var configuration = settings.log
            configuration.fsync = .never
            let log = try LogDirectory(path: settings.dataDirectory).openExclusive(configuration: configuration, while: "while replaying dead letters", logger: logger)
            defer { log.close() }
            guard try log.streamNames().contains(KappaStreams.deadLetters) else { return nil }
            let replay = DeadLetterReplay(
                deadLetters: try log.openStream(named: KappaStreams.deadLetters),
                readings: try log.createStream(named: KappaStreams.readings, partitionCount: settings.readingPartitions),
                router: TopicRouter(routes: settings.bridge.routes), decoder: PayloadDecoder(), schema: database.schema
            )
            return try await replay.run(connection)
        }
    }
}
