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
        @OptionGroup var logOptions: CommandLogOptions
        @Option(help: "Show at most this many (the newest).") var limit = 100

        func run() async throws {
            let (log, _) = try logOptions.open(.readOnly, logger: Logger(label: "kappa.dead-letters"))
            defer { log.close() }
            guard let entries = try await DeadLetterListing.newest(in: log.partitioned, limit: limit) else { return }
            print("position\treceived\ttopic\treason\tmessage")
            for entry in entries {
                let letter = entry.letter
                print("\(entry.partition)@\(entry.offset)\t\(letter.receivedAt)\t\(letter.topic)\t\(letter.reason.rawValue)\t\(letter.message)")
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
        @OptionGroup var logLocation: LogLocationOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var schema: SchemaOptions

        func run() async throws {
            let logger = Logger(label: "kappa.dead-letters")
            let settings: GatewaySettings
            do {
                // Routes and the log as `kappa run` would resolve them; the database comes from --database here.
                let flags = gateway.flags.merging(logLocation.flags) { first, _ in first }
                let layers = try SettingsLayers.load(flags: flags, environment: ProcessInfo.processInfo.environment)
                settings = try GatewaySettings.resolve(layers)
            } catch {
                throw ValidationError(error.description)
            }
            let kappaDatabase = try database.kappaDatabase(schema: schema)
            let summary = try await reportingInputErrors {
                try await DeadLetterReplaying.replay(settings: settings, database: kappaDatabase, logger: logger)
            }
            guard let summary else {
                print("No dead letters.")
                return
            }
            print("""
                Examined \(summary.examined) dead letters: replayed \(summary.replayed) (\(summary.readings) readings), \
                \(summary.alreadyReplayed) replayed before, \(summary.stillFailing) still failing, \
                \(summary.partial) from partly ingested messages (not replayed).
                """)
        }
    }
}
