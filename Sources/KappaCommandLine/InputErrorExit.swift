import ArgumentParser
import Foundation

extension AsyncParsableCommand {
    /// ArgumentParser's main, except that a usage or validation error (a bad flag, environment variable or
    /// configuration value) exits 2, the usual status of a command used wrongly, instead of 64. `kappa` and
    /// `kappa-sim` both start here.
    public static func mainExitingTwoOnInputError() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitOnInputError(error, message: fullMessage(for: error))
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Found while running (a bad environment variable or file value): the message, without the usage.
            exitOnInputError(error, message: "Error: \(message(for: error))")
            exit(withError: error)
        }
    }

    private static func exitOnInputError(_ error: any Error, message: String) {
        guard exitCode(for: error) == .validationFailure else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(2)
    }
}
