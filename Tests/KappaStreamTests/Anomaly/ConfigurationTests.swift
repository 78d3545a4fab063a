import Foundation
import Testing
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
        for key in DetectorSettings.keys { try settings.set(key, to: key == "gap_factor" ? 2 : 1) }
    }
}
