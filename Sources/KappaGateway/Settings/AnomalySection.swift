import Foundation
import KappaStream
import Yams

/// The `anomaly:` section of the configuration file, read into the JSON form an anomaly output version
/// records (``AnomalyConfigurationFile``), so the detectors see the same settings however they were given:
///
/// ```yaml
/// anomaly:
///   defaults: { spike_z: 6 }
///   metrics:
///     - pattern: "temp*"
///       settings: { max: 80, max_rate_per_second: 0.5 }
/// ```
enum AnomalySection {
    static func read(_ node: Node, path: String) throws(SettingsError) -> AnomalyConfigurationFile {
        func fail(_ node: Node, _ problem: String) -> SettingsError {
            SettingsError("\(path), line \(ConfigurationFile.line(node)): \(problem)")
        }
        func numbers(_ node: Node, _ what: String) throws(SettingsError) -> [String: Double] {
            guard case .mapping(let mapping) = node else { throw fail(node, "\(what) must map detector settings to numbers") }
            var result: [String: Double] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw fail(key, "\(what): a key must be a plain name") }
                guard let text = value.string, let number = Double(text), number.isFinite else {
                    throw fail(value, "\(what).\(name) must be a number")
                }
                result[name] = number
            }
            return result
        }
        guard case .mapping(let mapping) = node else { throw fail(node, "anomaly must be a mapping with defaults and metrics") }
        var file = AnomalyConfigurationFile()
        for (key, value) in mapping {
            switch key.string {
            case "defaults":
                file.defaults = try numbers(value, "anomaly.defaults")
            case "metrics":
                guard case .sequence(let entries) = value else { throw fail(value, "anomaly.metrics must be a list") }
                var metrics: [AnomalyConfigurationFile.MetricEntry] = []
                for entry in entries {
                    guard case .mapping(let fields) = entry else { throw fail(entry, "each of anomaly.metrics has pattern and settings") }
                    var pattern: String?
                    var settings: [String: Double] = [:]
                    for (field, content) in fields {
                        switch field.string {
                        case "pattern": pattern = content.string
                        case "settings": settings = try numbers(content, "anomaly.metrics.settings")
                        default: throw fail(field, "unknown key 'anomaly.metrics.\(field.string ?? "?")' (use pattern and settings)")
                        }
                    }
                    guard let pattern else { throw fail(entry, "each of anomaly.metrics needs a pattern (device/metric globs)") }
                    metrics.append(.init(pattern: pattern, settings: settings))
                }
                file.metrics = metrics
            default:
                throw fail(key, "unknown key 'anomaly.\(key.string ?? "?")' (use defaults and metrics)")
            }
        }
        do {
            _ = try file.configuration()
        } catch {
            throw fail(node, "anomaly: \(error)")
        }
        return file
    }
}

extension AnomalySection {
    /// `--anomaly-config FILE`: a file holding just the section (YAML, or JSON, which YAML reads too).
    static func load(path: String, _ setting: Setting, _ value: SettingValue) throws(SettingsError) -> AnomalyConfigurationFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError(setting, value, "cannot read \(path)")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw SettingsError(setting, value, "\(path) is not valid YAML or JSON: \(error)") }
        guard let node else { return AnomalyConfigurationFile() }
        return try read(node, path: path)
    }
}
