import Foundation
import KappaStream

/// `kappa config show`: each setting's effective value and where it came from, secrets redacted.
public enum SettingsReport {
    public struct Line: Sendable, Equatable {
        public var key: String
        public var value: String
        public var origin: String
    }

    public static func lines(_ layers: SettingsLayers) -> [Line] {
        GatewaySettingsCatalog.all.map { setting in
            guard let value = layers.value(setting) else {
                return Line(key: setting.key, value: "(not set)", origin: "")
            }
            let shown: String
            if setting.isSecret {
                shown = "(set, redacted)"
            } else if setting == GatewaySettingsCatalog.anomaly, case .file = value.origin {
                shown = layers.file?.anomaly?.json ?? "{}"
            } else if setting == GatewaySettingsCatalog.database {
                shown = redactingPassword(value.text)
            } else {
                shown = value.texts.joined(separator: ",")
            }
            return Line(key: setting.key, value: shown, origin: value.origin.description)
        }
    }

    public static func text(_ layers: SettingsLayers) -> String {
        let lines = lines(layers)
        let keyWidth = lines.map(\.key.count).max() ?? 0
        let valueWidth = min(60, lines.map(\.value.count).max() ?? 0)
        return lines.map { line in
            let key = line.key.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
            let value = line.value.count >= valueWidth ? line.value : line.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0)
            return "\(key)  \(value)  \(line.origin)".trimmed
        }.joined(separator: "\n") + "\n"
    }

    /// A conninfo from the environment may carry a password (that is allowed there); never print it.
    static func redactingPassword(_ conninfo: String) -> String {
        conninfo
            .replacingOccurrences(of: #"^([a-z]+://[^/@:]*):[^/@]*@"#, with: "$1:(redacted)@", options: .regularExpression)
            .replacingOccurrences(of: #"([?&]password=)[^&]*"#, with: "$1(redacted)", options: .regularExpression)
            .replacingOccurrences(of: #"(^|\s)password\s*=\s*('([^'\\]|\\.)*'|\S*)"#, with: "$1password=(redacted)", options: .regularExpression)
    }
}
