import Foundation
import KappaGateway
import Testing

/// The README's settings table and deploy/kappa.example.yaml say what the code knows: same keys, flags,
/// variables and defaults, none missing and none extra.
@Suite("documented settings")
struct DocumentedSettingsTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    struct Row: Hashable, CustomStringConvertible {
        var key: String
        var flag: String?
        var environment: String
        var defaultValue: String?
        var description: String { "\(key) \(flag ?? "-") \(environment) \(defaultValue ?? "none")" }
    }

    @Test("the README's table lists every setting with its flag, variable and default")
    func readmeTable() throws {
        let readme = try String(contentsOfFile: "\(Self.packageRoot)/README.md", encoding: .utf8)
        let pattern = #/^\| `([a-z_.]+)` \| (?:—|`(--[a-z-]+)`) \| `([A-Z_]+)` \| (?:none|`([^`]*)`) \|$/#
        var documented = Set<Row>()
        for line in readme.split(separator: "\n") {
            if let match = try pattern.wholeMatch(in: String(line)) {
                documented.insert(Row(key: String(match.1), flag: match.2.map(String.init), environment: String(match.3), defaultValue: match.4.map(String.init)))
            }
        }
        let known = Set(GatewaySettingsCatalog.all.map { Row(key: $0.key, flag: $0.flag, environment: $0.environment, defaultValue: $0.defaultValue) })
        #expect(documented.subtracting(known).isEmpty, "documented but not known: \(documented.subtracting(known))")
        #expect(known.subtracting(documented).isEmpty, "known but not documented: \(known.subtracting(documented))")
    }

    @Test("deploy/kappa.example.yaml is valid, names every key with its default, and every variable")
    func exampleFile() throws {
        let path = "\(Self.packageRoot)/deploy/kappa.example.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // As shipped: valid, and what it sets is the defaults.
        let shipped = try ConfigurationFile(text: text, path: path)
        for (key, value) in shipped.values {
            guard let setting = GatewaySettingsCatalog.all.first(where: { $0.key == key }), let defaultValue = setting.defaultValue else { continue }
            #expect(value.texts.joined(separator: ",") == defaultValue, "\(key) in the example is not its default")
        }
        // With the commented-out keys switched on: every key of the file is there.
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line).replacing(#/^(\s*)# ([a-z_]+: \S.*)$/#) { "\($0.1)\($0.2)" }
        }.joined(separator: "\n")
        let full = try ConfigurationFile(text: uncommented, path: path)
        for setting in GatewaySettingsCatalog.fileKeys where !setting.isSecret {
            #expect(full.values[setting.key] != nil, "\(setting.key) is not in the example")
        }
        for setting in GatewaySettingsCatalog.all where setting != GatewaySettingsCatalog.config {
            #expect(text.contains(setting.environment), "\(setting.environment) is not mentioned in the example")
        }
    }

    @Test("the systemd unit reads the configuration file the example is installed as")
    func systemdUnit() throws {
        let unit = try String(contentsOfFile: "\(Self.packageRoot)/deploy/systemd/kappa.service", encoding: .utf8)
        #expect(unit.contains("/etc/kappa/kappa.yaml"))
        let operations = try String(contentsOfFile: "\(Self.packageRoot)/docs/operations.md", encoding: .utf8)
        #expect(operations.contains("deploy/kappa.example.yaml /etc/kappa/kappa.yaml"))
    }
}
