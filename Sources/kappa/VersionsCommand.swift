import ArgumentParser
import KappaGateway
import KappaPostgres
import KappaStorage
import Logging

/// `kappa versions`: the output versions of each processor; activate one, drop an inactive one.
struct VersionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "List, activate and drop processors' output versions.",
        subcommands: [List.self, Activate.self, Drop.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every version: processor, version, state, created, configuration.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var schema: SchemaOptions

        func run() async throws {
            let versions = try await VersionsCommand.withVersions(database, schema) { versions, connection in
                try await versions.list(connection)
            }
            print("processor\tversion\tstate\tcreated\tconfiguration")
            for version in versions {
                print("\(version.processor)\t\(version.version)\t\(version.state.rawValue)\t\(version.createdAt)\t\(version.configuration)")
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Point the processor's views at a version, in one transaction.")
        @OptionGroup var target: VersionTarget

        func run() async throws {
            let (processor, version) = (target.processor, target.version)
            try await VersionsCommand.withVersions(target.database, target.schema) { versions, connection in
                guard let target = try await versions.version(connection, processor: processor, version: version) else {
                    throw ValidationError("\(processor) has no version \(version).")
                }
                if target.state == .replaying {
                    StandardError.write("Note: \(processor) \(version) has not caught up with the log yet.\n")
                }
                try await versions.activate(connection, processor: processor, version: version)
            }
            print("\(processor) \(version) is active.")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop an inactive version's tables and offsets.")
        @OptionGroup var target: VersionTarget

        func run() async throws {
            let (processor, version) = (target.processor, target.version)
            try await VersionsCommand.withVersions(target.database, target.schema) { versions, connection in
                try await versions.drop(connection, processor: processor, version: version)
            }
            print("\(processor) \(version) dropped.")
        }
    }

    static func withVersions<Value>(
        _ database: DatabaseOptions, _ schema: SchemaOptions,
        _ body: (OutputVersions, PostgresConnection) async throws -> Value
    ) async throws -> Value {
        try await database.kappaDatabase(schema: schema).withOutputVersions(logger: Logger(label: "kappa.versions"), body)
    }
}

/// `<processor> <version>` and where the database is, for `versions activate` and `versions drop`.
struct VersionTarget: ParsableArguments {
    @Argument(help: "The processor: rollups, devices, archive or dead-letters.") var processor: String
    @Argument(help: "The version, e.g. v2.") var version: String
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var schema: SchemaOptions
}
