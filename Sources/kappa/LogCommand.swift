import ArgumentParser

/// `kappa log …`: look into the partitioned log (issue: the partitioned log).
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect the partitioned log.",
        subcommands: []
    )
}
