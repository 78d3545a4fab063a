import Foundation
import Testing
import KappaStorage
@testable import KappaStream

@Suite struct ConfigurationTests {
    @Test(arguments: [
        ("*temperature*", "bearing_temperature", true), ("*temperature*", "temp", false), ("temp?", "temp1", true),
        ("temp?", "temp12", false), ("humidity", "humidity", true), ("humidity", "humidity2", false), ("*", "x", true),
        ("a*b*c", "aXXbYYc", true), ("a*b*c", "aXXbYY", false),
    ])
    func globs(pattern: String, metric: String, matches: Bool) {
        #expect(MetricPattern(pattern).matches(metric) == matches)
    }

    @Test func parsedFromAFileShape() throws {
        let json = #"{"defaults": {"spike_z": 7, "gap_min_seconds": 30}, "metrics": [{"pattern": "*temperature*", "settings": {"min": -40, "max": 85, "enable.flatline": 0}}, {"pattern": "bearing_temperature", "settings": {"max": 120}}]}"#
        let file = try JSONDecoder().decode(AnomalyConfigurationFile.self, from: Data(json.utf8))
        let configuration = try file.configuration()
        #expect(configuration.defaults.spikeZ == 7)
        #expect(configuration.defaults.gapMinimumNanoseconds == 30_000_000_000)
        let bearing = configuration.settings(for: "bearing_temperature")
        #expect(bearing.minimum == -40 && bearing.maximum == 120)
        #expect(!bearing.enabled.contains(.flatline) && bearing.enabled.contains(.spike))
        #expect(configuration.settings(for: "humidity").maximum == nil)
    }

    @Test func unknownKeysAndBadValuesAreNamed() {
        var configuration = AnomalyConfiguration()
        #expect(throws: AnomalyConfigurationError(code: .unknownKey, key: "spike_zz", value: 3, pattern: "x")) {
            try configuration.override("x", [.init("spike_zz", 3)])
        }
        #expect(throws: AnomalyConfigurationError(code: .invalidValue, key: "level_smoothing", value: 2, pattern: "x")) {
            try configuration.override("x", [.init("level_smoothing", 2)])
        }
        #expect(configuration.overrides.isEmpty)
        #expect(throws: AnomalyConfigurationError.self) { try AnomalyConfigurationFile(defaults: ["gap_factor": 0.5]).configuration() }
    }

    @Test func everyListedKeyIsAccepted() throws {
        var settings = DetectorSettings()
        for key in DetectorSettings.keys { try settings.set(key, to: ["gap_factor", "state_change_metrics"].contains(key) ? 2 : 1) }
    }

    @Test func everyKeyReadsBackWhatWasSet() throws {
        var settings = DetectorSettings()
        try settings.set("min", to: -5)
        try settings.set("enable.flatline", to: 0)
        for key in DetectorSettings.keys {
            guard let value = settings.value(of: key) else {
                #expect(key == "max" || key == "max_rate_per_second", "\(key) has no value")
                continue
            }
            var copy = settings
            try copy.set(key, to: value)
            #expect(copy == settings, "\(key)")
        }
        #expect(settings.value(of: "min") == -5 && settings.value(of: "enable.flatline") == 0)
    }

    @Test func recordedJSONRebuildsTheSameConfiguration() throws {
        var defaults = DetectorSettings()
        try defaults.set("spike_z", to: 4.5)
        try defaults.set("flatline_min_seconds", to: 12)
        var configuration = AnomalyConfiguration(defaults: defaults)
        try configuration.override("*temperature*", [.init("max", 85), .init("enable.gap", 0)])
        let json = AnomalyConfigurationFile(configuration).json
        #expect(json.contains("\"spike_z\":4.5") && json.contains("*temperature*"), "\(json)")
        let rebuilt = try AnomalyConfigurationFile(json: json).configuration()
        for metric in ["room_temperature", "humidity"] {
            #expect(rebuilt.settings(for: metric) == configuration.settings(for: metric), "\(metric)")
        }
        #expect(AnomalyConfigurationFile(rebuilt).json == json)

        var processors = ProcessorConfiguration()
        processors.anomalies = configuration
        #expect(processors.outputSettingsJSON(for: .anomalies) == json)
    }
}
