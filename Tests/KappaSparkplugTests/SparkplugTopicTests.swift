import KappaSparkplug
import Testing

@Suite("Sparkplug topics")
struct SparkplugTopicTests {
    @Test("node and device messages name their Kappa device")
    func devices() throws {
        let node = try #require(SparkplugTopic("spBv1.0/plant-a/NDATA/line-3"))
        #expect(node.messageType == .nodeData)
        #expect(node.edgeNode == SparkplugEdgeNode(group: "plant-a", node: "line-3"))
        #expect(node.device == nil)
        #expect(node.kappaDevice == "plant-a/line-3")

        let device = try #require(SparkplugTopic("spBv1.0/plant-a/DDATA/line-3/press-7"))
        #expect(device.messageType == .deviceData)
        #expect(device.kappaDevice == "plant-a/line-3/press-7")
        #expect(device.topic == "spBv1.0/plant-a/DDATA/line-3/press-7")
    }

    @Test(
        "what is not a node or device message is not parsed",
        arguments: [
            "spBv1.0/STATE/kappa", "spAv1.0/g/NDATA/e", "spBv1.0/g/NDATA/e/d", "spBv1.0/g/DDATA/e",
            "spBv1.0/g/NDATA/", "spBv1.0//NDATA/e", "spBv1.0/g/XDATA/e", "spBv1.0/g/NBIRTH", "STATE/kappa",
        ]
    )
    func rejected(topic: String) {
        #expect(SparkplugTopic(topic) == nil)
    }
}
