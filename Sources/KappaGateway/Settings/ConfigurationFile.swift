import Foundation
import KappaStream
import Yams

/// `kappa run --config FILE`: the settings of ``GatewaySettingsCatalog`` in YAML, lowest precedence but for the
/// defaults. Nested mappings spell the dotted keys (`mqtt: { tls: { ca_file: … } }` is `mqtt.tls.ca_file`).
/// A key the catalog does not know, or a value of the wrong shape, is an error that names the key and its
/// line: a typo must not silently turn a setting off. `deploy/kappa.example.yaml` lists every key.
public struct ConfigurationFile: Sendable {
    public let path: String
    /// The values by key, each with the line it is on.
    public private(set) var values: [String: SettingValue] = [:]
    /// The `anomaly:` section, in the form recorded with an anomaly output version.
    public private(set) var anomaly: AnomalyConfigurationFile?

    /// Reads and checks `path`.
    public static func load(path: String) throws(SettingsError) -> ConfigurationFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError("cannot read the configuration file \(path)")
        }
        return try ConfigurationFile(text: text, path: path)
    }

    /// Parses `text` as if read from `path`.
    public init(text: String, path: String) throws(SettingsError) {
        self.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SettingsError("\(path) is not valid YAML: \(error)")
        }
        guard let root else { return }  // an empty file sets nothing
        guard case .mapping(let mapping) = root else {
            throw SettingsError("\(path), line \(Self.line(root)): the file must be a mapping of keys to values")
        }
        let known = Dictionary(uniqueKeysWithValues: GatewaySettingsCatalog.fileKeys.map { ($0.key, $0) })
        try read(mapping, prefix: "", known: known)
    }

    private mutating func read(_ mapping: Node.Mapping, prefix: String, known: [String: Setting]) throws(SettingsError) {
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw SettingsError("\(path), line \(Self.line(keyNode)): a key must be a plain name")
            }
            let key = prefix + keyScalar.string
            let line = Self.line(keyNode)
            let isSection = known.keys.contains(where: { $0.hasPrefix(key + ".") })
            if valueNode.null != nil, known[key] != nil || isSection {
                continue  // `key:` with nothing after it (all its lines commented out) sets nothing
            }
            if key == GatewaySettingsCatalog.anomaly.key {
                anomaly = try AnomalySection.read(valueNode, path: path)
                values[key] = SettingValue([], origin: .file(path: path, line: line))
            } else if let setting = known[key] {
                values[key] = SettingValue(try texts(of: valueNode, for: setting), origin: .file(path: path, line: line))
            } else if case .mapping(let nested) = valueNode, isSection {
                try read(nested, prefix: key + ".", known: known)
            } else {
                let suggestion = Self.closest(to: key, in: Array(known.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                throw SettingsError("\(path), line \(line): unknown key '\(key)'\(suggestion)")
            }
        }
    }

    private func texts(of node: Node, for setting: Setting) throws(SettingsError) -> [String] {
        switch node {
        case .scalar(let scalar):
            if setting.isList {
                // `roles: bridge, rollups` reads like the environment variable.
                return scalar.string.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            if setting.isSecret {
                throw SettingsError("\(path), line \(Self.line(node)): \(setting.key) does not belong in a file that others may read: use \(setting.key)_file or $\(setting.environment)")
            }
            return [scalar.string]
        case .sequence(let sequence) where setting.isList:
            var texts: [String] = []
            for element in sequence {
                switch element {
                case .scalar(let scalar):
                    texts.append(scalar.string)
                case .mapping(let entry) where setting == GatewaySettingsCatalog.topics:
                    // { template: "sites/{site}/{device}/{metric}", format: number }
                    var template: String?
                    var format: String?
                    for (name, value) in entry {
                        switch (name.string, value) {
                        case ("template", .scalar(let scalar)): template = scalar.string
                        case ("format", .scalar(let scalar)): format = scalar.string
                        default:
                            throw SettingsError("\(path), line \(Self.line(name)): unknown key '\(setting.key).\(name.string ?? "?")' (a topic has template and format)")
                        }
                    }
                    guard let template else { throw SettingsError("\(path), line \(Self.line(element)): a topic needs a template") }
                    texts.append(format.map { "\(template)=\($0)" } ?? template)
                default:
                    throw SettingsError("\(path), line \(Self.line(element)): \(setting.key) lists plain values")
                }
            }
            return texts
        default:
            throw SettingsError("\(path), line \(Self.line(node)): \(setting.key) must be \(setting.isList ? "a list" : "a single value")")
        }
    }

    static func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    /// The known key one small typo away from `key`, for the error message.
    static func closest(to key: String, in keys: [String]) -> String? {
        let ranked = keys.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
        guard let ranked, ranked.1 <= 2 else { return nil }
        return ranked.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
