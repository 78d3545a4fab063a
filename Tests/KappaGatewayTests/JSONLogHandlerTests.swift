import Foundation
import KappaGateway
import Logging
import Synchronization
import Testing

/// `--log-format json`: each line one JSON object a log shipper can parse, metadata included.
@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("a line parses as JSON with time, level, label, message and metadata; quotes and newlines escaped")
    func lineIsJSON() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "kappa", write: { line in lines.withLock { $0.append(line) } })
        handler.logLevel = .info
        handler[metadataKey: "kappa.role"] = "bridge"
        let logger = Logger(label: "kappa", factory: { _ in handler })
        logger.info("a \"quoted\"\nmessage\u{01}", metadata: ["mqtt.problem": "refused: \"x\""])
        logger.debug("below the level")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "info")
        #expect(object["label"] == "kappa")
        #expect(object["message"] == "a \"quoted\"\nmessage\u{01}")
        #expect(object["kappa.role"] == "bridge")
        #expect(object["mqtt.problem"] == "refused: \"x\"")
        #expect(object["time"]?.hasSuffix("Z") == true)
    }
}
