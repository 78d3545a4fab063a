import ArgumentParser
import Foundation
import KappaGateway

/// `kappa config`: what `kappa run` would use, and whether a configuration file is valid.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective settings of `kappa run`, or check a configuration file.",
        subcommands: [Show.self, Check.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each setting of `kappa run` with its effective value and where it came from (flag, environment, file and line, or default); secrets are redacted.",
            discussion: "Takes the same options as `kappa run`, e.g. `kappa config show --config /etc/kappa/kappa.yaml --roles bridge`. Exits 2 if a setting is invalid."
        )

        @OptionGroup var options: RunOptions

        func run() throws {
            let layers: SettingsLayers
            do {
                layers = try SettingsLayers.load(flags: options.flags, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw ValidationError(error.description)
            }
            print(SettingsReport.text(layers), terminator: "")
            do { _ = try GatewaySettings.resolve(layers) } catch { throw ValidationError(error.description) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration file: every key known, every value valid. Exits 0 if it is, 2 with the key and line if not.",
            discussion: "Flags and environment variables are ignored, so the file itself is checked: `kappa config check /etc/kappa/kappa.yaml`."
        )

        @Argument(help: ArgumentHelp("The YAML file.", valueName: "file"))
        var file: String

        func run() throws {
            do {
                let layers = SettingsLayers(file: try ConfigurationFile.load(path: file))
                _ = try GatewaySettings.resolve(layers)
            } catch {
                throw ValidationError(error.description)
            }
            print("\(file): ok")
        }
    }
}
