import KappaGateway
import KappaStream
import Testing

@Suite("retention and tag column settings")
struct RetentionSettingsTests {
    @Test("rollup retention per width: defaults by size, explicit widths override, forever keeps all")
    func rollupRetention() throws {
        let defaults = try GatewaySettings.resolve(SettingsLayers()).processors
        #expect(defaults.rollupRetention.retention(ofWidth: 60) == .seconds(30 * 86_400))
        #expect(defaults.rollupRetention.retention(ofWidth: 300) == .seconds(30 * 86_400), "a width under an hour not named keeps 30 days")
        #expect(defaults.rollupRetention.retention(ofWidth: 3600) == .seconds(400 * 86_400))
        #expect(defaults.rollupRetention.retention(ofWidth: 86_400) == nil)
        let file = try ConfigurationFile(text: "processors:\n  rollup_retention: [1m=7d, 5m=forever]\n", path: "kappa.yaml")
        let fromFile = try GatewaySettings.resolve(SettingsLayers(file: file)).processors.rollupRetention
        #expect(fromFile.retention(ofWidth: 60) == .seconds(7 * 86_400))
        #expect(fromFile.retention(ofWidth: 300) == nil)
        #expect(fromFile.retention(ofWidth: 3600) == .seconds(400 * 86_400), "widths not named keep their default")
        let fromEnvironment = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ROLLUP_RETENTION": "1h=36h"], file: file))
        #expect(fromEnvironment.processors.rollupRetention.retention(ofWidth: 3600) == .seconds(36 * 3600))
        #expect(fromEnvironment.processors.rollupRetention.retention(ofWidth: 60) == .seconds(30 * 86_400), "the variable replaces the file's list")
        for bad in ["1m", "1m=", "1m=soon", "1x=3d", "1m=3d,1m=4d", "1m=0s"] {
            do {
                _ = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ROLLUP_RETENTION": bad]))
                Issue.record("'\(bad)' was accepted")
            } catch {
                #expect(error.description.contains("KAPPA_ROLLUP_RETENTION"), "\(error)")
            }
        }
    }

    @Test("archive and dead-letter retention: a duration or forever")
    func archiveAndDeadLetters() throws {
        let defaults = try GatewaySettings.resolve(SettingsLayers()).processors
        #expect(defaults.archiveRetention == .seconds(30 * 86_400) && defaults.deadLetterRetention == .seconds(30 * 86_400))
        let set = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ARCHIVE_RETENTION": "forever", "KAPPA_DEAD_LETTER_RETENTION": "90d"])).processors
        #expect(set.archiveRetention == nil && set.deadLetterRetention == .seconds(90 * 86_400))
        #expect(throws: SettingsError.self) { try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_DEAD_LETTER_RETENTION": "-1d"])) }
    }

    @Test("tag columns: SQL names that no view column has, each once")
    func tagColumns() throws {
        #expect(try GatewaySettings.resolve(SettingsLayers()).processors.rollupTagColumns.isEmpty)
        let file = try ConfigurationFile(text: "processors:\n  rollup_tag_columns: [site, line]\n", path: "kappa.yaml")
        #expect(try GatewaySettings.resolve(SettingsLayers(file: file)).processors.rollupTagColumns == ["site", "line"])
        #expect(try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_TAG_COLUMNS": "zone, cell_2"])).processors.rollupTagColumns == ["zone", "cell_2"])
        for bad in ["Site", "count", "unit", "2nd", "a-b", "site,site", "device"] {
            #expect(throws: SettingsError.self, "\(bad)") { try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_TAG_COLUMNS": bad])) }
        }
    }
}
