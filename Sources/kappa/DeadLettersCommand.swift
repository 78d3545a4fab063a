import ArgumentParser
import Foundation
import KappaGateway
import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStorage
import KappaStream
import Logging

/// `kappa dead-letters`: what could not be decoded, and replaying it once the routes or codecs are fixed.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List dead letters, or replay those that now decode into the readings stream.",
        subcommands: [List.self, ReplayDeadLetters.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The dead letters in the log: position, time, topic, reason, message.")
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "Show at most this many (the newest).") var limit = 100

        func run() async throws {
            let log = try data.openReadOnly()
            defer { log.close() }
            guard try log.streamNames().contains(KappaStreams.deadLetters) else { return }
            let stream = try log.openStream(named: KappaStreams.deadLetters)
            print("position\treceived\ttopic\treason\tmessage")
            for partition in 0..<stream.partitionCount {
                let range = stream.offsets(partition: partition)
                var offset = max(range.start, range.highWatermark - Int64(limit))
                while offset < range.highWatermark {
                    let batch = try await stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1000, maxBytes: 4 << 20))
                    guard !batch.records.isEmpty else { break }
                    for record in batch.records {
                        guard let letter = record.value.withUnsafeBytes({ try? DeadLetterRecord.decode($0) }) else { continue }
                        print("\(partition)@\(record.offset)\t\(letter.receivedAt)\t\(letter.topic)\t\(letter.reason.rawValue)\t\(letter.message)")
                    }
                    offset = batch.nextOffset
                }
            }
        }
    }

    struct ReplayDeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Re-decode dead letters with the current --topic routes (or configuration) and append those that now decode.",
            discussion: "Each dead letter is replayed at most once (claims are kept in PostgreSQL). Stop `kappa run` first: this appends to the log."
        )
        @OptionGroup var gateway: GatewayOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var schema: SchemaOptions

        func run() async throws {
            let logger = Logger(label: "kappa.dead-letters")
            let settings: GatewaySettings
            do {
                // Routes and the log as `kappa run` would resolve them; the database comes from --database here.
                let layers = try SettingsLayers.load(flags: gateway.flags, environment: ProcessInfo.processInfo.environment)
                settings = try GatewaySettings.resolve(layers)
            } catch {
                throw ValidationError(error.description)
            }
            let connection = try await PostgresConnection.connect(try database.configuration(), logger: logger)
            defer { Task { await connection.close() } }
            try await SchemaMigrator(schema: PostgresIdentifier(schema.name)).migrate(connection)
            var configuration = settings.log
            configuration.fsync = .never
            let log: DiskLog
            do {
                log = try DiskLog(directory: settings.dataDirectory, configuration: configuration, logger: logger)
            } catch {
                guard error.code == .directoryInUse else { throw error }
                throw ValidationError("The log at \(settings.dataDirectory) is open in another process: stop `kappa run` while replaying dead letters.")
            }
            defer { log.close() }
            guard try log.streamNames().contains(KappaStreams.deadLetters) else {
                print("No dead letters.")
                return
            }
            let replay = DeadLetterReplay(
                deadLetters: try log.openStream(named: KappaStreams.deadLetters),
                readings: try log.createStream(named: KappaStreams.readings, partitionCount: settings.readingPartitions),
                router: TopicRouter(routes: settings.bridge.routes), decoder: PayloadDecoder(), schema: schema.name
            )
            let summary = try await replay.run(connection)
            print("""
                Examined \(summary.examined) dead letters: replayed \(summary.replayed) (\(summary.readings) readings), \
                \(summary.alreadyReplayed) replayed before, \(summary.stillFailing) still failing, \
                \(summary.partial) from partly ingested messages (not replayed).
                """)
        }
    }
}
