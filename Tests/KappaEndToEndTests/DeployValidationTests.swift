import Foundation
import KappaTestSupport
import Testing

/// `deploy/validate.sh` in the test run, so CI catches a unit, compose file, broker or database setting, or
/// dashboard that no longer matches what kappa provides.
@Suite("deploy files")
struct DeployValidationTests {
    /// The package root: this file is Tests/KappaEndToEndTests/DeployValidationTests.swift.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("deploy/validate.sh passes", .timeLimit(.minutes(2)))
    func validateScriptPasses() async throws {
        let script = "\(Self.packageRoot)/deploy/validate.sh"
        try #require(FileManager.default.fileExists(atPath: script), "no \(script)")
        let output = "\(try TemporaryDirectory.make(prefix: "kappa-validate"))/output.txt"
        let validation = try KappaProcess(executablePath: "/bin/bash", arguments: [script], outputFile: output)
        let status = await validation.waitForExit(timeout: .seconds(100))
        #expect(status == 0, "deploy/validate.sh failed:\n\(validation.output)")
        #expect(validation.output.contains("dashboards are valid JSON"), "validate.sh stopped early:\n\(validation.output)")
    }
}
