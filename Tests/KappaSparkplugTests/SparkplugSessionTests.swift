import Foundation
import KappaCore
@testable import KappaSparkplug
import SwiftProtobuf
import Testing

@Suite("Sparkplug session")
struct SparkplugSessionTests {
    typealias M = SparkplugMessages
    let received = Timestamp(millisecondsSinceEpoch: 1_764_500_100_000)
    let nodeBirthTopic = SparkplugTopic("spBv1.0/plant/NBIRTH/edge-1")!
    let nodeDataTopic = SparkplugTopic("spBv1.0/plant/NDATA/edge-1")!
    let deviceBirthTopic = SparkplugTopic("spBv1.0/plant/DBIRTH/edge-1/boiler")!
    let deviceDataTopic = SparkplugTopic("spBv1.0/plant/DDATA/edge-1/boiler")!
    let nodeDeathTopic = SparkplugTopic("spBv1.0/plant/NDEATH/edge-1")!

    func bornSession() -> SparkplugSession {
        var session = SparkplugSession()
        _ = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth(bdSeq: 4, [
            M.metric("Supply/Voltage", alias: 1, type: .double, .doubleValue(229.5)),
            M.metric("Uptime", alias: 2, type: .uInt32, .intValue(3_600)),
        ]), receivedAt: received)
        _ = session.receive(topic: deviceBirthTopic, payload: M.payload(seq: 1, [
            M.metric("Temperature", alias: 10, type: .float, .floatValue(81.25)),
            M.metric("Burner On", alias: 11, type: .boolean, .booleanValue(true)),
        ]), receivedAt: received)
        return session
    }

    @Test("a birth's values are readings; data names metrics by the birth's aliases and keeps their own timestamps")
    func aliasesResolve() throws {
        var session = SparkplugSession()
        let birth = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth(bdSeq: 4, [
            M.metric("Supply/Voltage", alias: 1, type: .double, .doubleValue(229.5)),
        ]), receivedAt: received)
        #expect(birth.readings.map(\.metric) == ["Supply/Voltage"])
        #expect(birth.readings.first?.device == "plant/edge-1")
        #expect(birth.readings.first?.time == Timestamp(millisecondsSinceEpoch: 1_764_500_000_000))
        #expect(birth.skipped == 2)  // bdSeq and Node Control/Rebirth
        #expect(birth.online == ["plant/edge-1"])

        let data = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 1, timestamp: nil, [
            M.metric(nil, alias: 1, timestamp: 1_764_500_000_500, .doubleValue(230.25)),
            M.metric(nil, alias: 1, .doubleValue(231)),
        ]), receivedAt: received)
        #expect(data.problems.isEmpty)
        #expect(data.readings == [
            Reading(device: "plant/edge-1", metric: "Supply/Voltage", time: Timestamp(millisecondsSinceEpoch: 1_764_500_000_500), value: 230.25),
            Reading(device: "plant/edge-1", metric: "Supply/Voltage", time: received, value: 231, timeSource: .received),
        ])
        #expect(!data.rebirthNeeded)
    }

    @Test("device births and data are the device's, under group/edge/device")
    func deviceMetrics() throws {
        var session = bornSession()
        let data = session.receive(topic: deviceDataTopic, payload: M.payload(seq: 2, [
            M.metric(nil, alias: 10, .floatValue(82.5)),
            M.metric(nil, alias: 11, .booleanValue(false)),
        ]), receivedAt: received)
        #expect(data.readings.map(\.device) == ["plant/edge-1/boiler", "plant/edge-1/boiler"])
        #expect(data.readings.map(\.metric) == ["Temperature", "Burner On"])
        #expect(data.readings.map(\.value) == [82.5, 0])
    }

    @Test(
        "every scalar type is read at its declared width and sign",
        arguments: [
            (SparkplugDataType.int8, Kappa_Sparkplug_Payload.Metric.OneOf_Value.intValue(255), -1.0),
            (.int8, .intValue(4_294_967_295), -1),
            (.int16, .intValue(UInt32(bitPattern: -300)), -300),
            (.int32, .intValue(UInt32(bitPattern: Int32.min)), Double(Int32.min)),
            (.int64, .longValue(UInt64(bitPattern: -5)), -5),
            (.uInt8, .intValue(200), 200),
            (.uInt16, .intValue(65_535), 65_535),
            (.uInt32, .intValue(4_000_000_000), 4_000_000_000),
            (.uInt32, .longValue(4_000_000_000), 4_000_000_000),
            (.uInt64, .longValue(1 << 53), 9_007_199_254_740_992),
            (.float, .floatValue(-0.5), -0.5),
            (.double, .doubleValue(1e-3), 1e-3),
            (.boolean, .booleanValue(true), 1),
            (.dateTime, .longValue(1_764_500_000_000), 1_764_500_000_000),
        ]
    )
    func scalarTypes(type: SparkplugDataType, value: Kappa_Sparkplug_Payload.Metric.OneOf_Value, expected: Double) throws {
        var session = SparkplugSession()
        let birth = session.receive(
            topic: nodeBirthTopic, payload: M.nodeBirth([M.metric("x", alias: 7, type: type, value)]), receivedAt: received
        )
        #expect(birth.readings.map(\.value) == [expected])
        // In data the type comes from the birth when the metric leaves it out.
        let data = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 1, [M.metric(nil, alias: 7, value)]), receivedAt: received)
        #expect(data.readings.map(\.value) == [expected])
    }

    @Test("strings, bytes and nulls are skipped and counted, never dead letters; data sets and arrays are, by name")
    func skippedAndUnsupported() throws {
        var session = SparkplugSession()
        var dataSet = Kappa_Sparkplug_Payload.DataSet()
        dataSet.columns = ["a"]
        let outcome = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth([
            M.metric("Firmware", type: .string, .stringValue("2.1.0")),
            M.metric("Blob", type: .bytes, .bytesValue(.init([1, 2]))),
            M.metric("Offline Sensor", type: .double, isNull: true),
            M.metric("Batches", type: .dataSet, .datasetValue(dataSet)),
            M.metric("Curve", type: .doubleArray, .bytesValue(.init([0, 0, 0, 0, 0, 0, 240, 63]))),
            M.metric("Pressure", type: .double, .doubleValue(1.5)),
        ]), receivedAt: received)
        #expect(outcome.readings.map(\.metric) == ["Pressure"])
        #expect(outcome.skipped == 5)  // 2 control metrics, the string, the bytes and the null
        #expect(outcome.problems.map(\.reason) == [.sparkplugUnsupportedType, .sparkplugUnsupportedType])
        #expect(outcome.problems.map(\.field) == ["Batches", "Curve"])
        #expect(outcome.problems.first?.message.contains("DataSet") == true)
        #expect(outcome.problems.last?.message.contains("doubleArray") == true)
    }

    @Test("a double array is dead-lettered by name")
    func arrays() throws {
        var session = SparkplugSession()
        let outcome = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth([
            M.metric("Curve", type: .int32Array, .intValue(3)),
        ]), receivedAt: received)
        #expect(outcome.readings.isEmpty)
        #expect(outcome.problems.first?.field == "Curve")
        #expect(outcome.problems.first?.message.contains("int32Array") == true)
    }

    @Test("template instances become one reading per numeric member, to any depth; definitions are skipped")
    func templates() throws {
        var inner = Kappa_Sparkplug_Payload.Template()
        inner.metrics = [M.metric("Amps", type: .float, .floatValue(3.5))]
        var motor = Kappa_Sparkplug_Payload.Template()
        motor.templateRef = "Motor"
        motor.metrics = [
            M.metric("RPM", type: .uInt16, .intValue(1_450)),
            M.metric("Serial", type: .string, .stringValue("M-1")),
            M.metric("Phase A", type: .template, .templateValue(inner)),
        ]
        var definition = Kappa_Sparkplug_Payload.Template()
        definition.isDefinition = true
        definition.metrics = [M.metric("RPM", type: .uInt16, .intValue(0))]
        var session = SparkplugSession()
        let outcome = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth([
            M.metric("_types_/Motor", type: .template, .templateValue(definition)),
            M.metric("Pump Motor", type: .template, .templateValue(motor)),
        ]), receivedAt: received)
        #expect(outcome.readings.map(\.metric) == ["Pump Motor/RPM", "Pump Motor/Phase A/Amps"])
        #expect(outcome.readings.map(\.value) == [1_450, 3.5])
        #expect(outcome.problems.isEmpty)
    }

    @Test("an alias no birth declared, or data before any birth, is dead-lettered and asks for a rebirth")
    func unknownAliasAndNoBirth() throws {
        var session = SparkplugSession()
        let early = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 5, [M.metric(nil, alias: 1, .doubleValue(1))]), receivedAt: received)
        #expect(early.problems.map(\.reason) == [.sparkplugNoBirth])
        #expect(early.rebirthNeeded)

        session = bornSession()
        let unknown = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 2, [
            M.metric(nil, alias: 99, .doubleValue(1)),
            M.metric(nil, alias: 1, .doubleValue(228)),
        ]), receivedAt: received)
        #expect(unknown.readings.map(\.metric) == ["Supply/Voltage"])
        #expect(unknown.problems.map(\.reason) == [.sparkplugUnknownAlias])
        #expect(unknown.problems.first?.message.contains("99") == true)
        #expect(unknown.rebirthNeeded)

        let orphan = session.receive(topic: SparkplugTopic("spBv1.0/plant/DDATA/edge-1/unborn")!, payload: M.payload(seq: 3, []), receivedAt: received)
        #expect(orphan.problems.map(\.reason) == [.sparkplugNoBirth])
    }

    @Test("a gap in seq is reported and asks for a rebirth; 255 → 0 is no gap")
    func sequence() throws {
        var session = SparkplugSession()
        _ = session.receive(topic: nodeBirthTopic, payload: M.nodeBirth(seq: 254, [M.metric("v", alias: 1, type: .double, .doubleValue(0))]), receivedAt: received)
        let next = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 255, [M.metric(nil, alias: 1, .doubleValue(1))]), receivedAt: received)
        #expect(next.sequenceGap == nil)
        let wrapped = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 0, [M.metric(nil, alias: 1, .doubleValue(2))]), receivedAt: received)
        #expect(wrapped.sequenceGap == nil)
        #expect(!wrapped.rebirthNeeded)
        let gap = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 4, [M.metric(nil, alias: 1, .doubleValue(3))]), receivedAt: received)
        #expect(gap.sequenceGap?.expected == 1)
        #expect(gap.sequenceGap?.received == 4)
        #expect(gap.rebirthNeeded)
        #expect(gap.readings.count == 1)  // the data itself is still good
    }

    @Test("a death with the session's bdSeq takes the node and its devices offline; an older one is ignored")
    func deaths() throws {
        var session = bornSession()
        let stale = session.receive(topic: nodeDeathTopic, payload: M.nodeDeath(bdSeq: 3), receivedAt: received)
        #expect(stale.staleDeath)
        #expect(stale.offline.isEmpty)
        #expect(session.isOnline(nodeDeathTopic.edgeNode))

        let death = session.receive(topic: nodeDeathTopic, payload: M.nodeDeath(bdSeq: 4), receivedAt: received)
        #expect(death.offline == ["plant/edge-1", "plant/edge-1/boiler"])
        #expect(!session.isOnline(nodeDeathTopic.edgeNode))
        let after = session.receive(topic: nodeDataTopic, payload: M.payload(seq: 3, [M.metric(nil, alias: 1, .doubleValue(1))]), receivedAt: received)
        #expect(after.problems.map(\.reason) == [.sparkplugNoBirth])

        var device = bornSession()
        let deviceDeath = device.receive(topic: SparkplugTopic("spBv1.0/plant/DDEATH/edge-1/boiler")!, payload: M.payload(seq: 2, []), receivedAt: received)
        #expect(deviceDeath.offline == ["plant/edge-1/boiler"])
    }

    @Test("bytes that are not a protobuf payload are dead-lettered")
    func malformed() {
        var session = SparkplugSession()
        let outcome = session.receive(topic: nodeDataTopic, payload: [0xFF, 0xFF, 0xFF], receivedAt: received)
        #expect(outcome.problems.map(\.reason) == [.sparkplugMalformed])
    }

    @Test("the same messages in the same order decode the same: replay equals live")
    func deterministic() throws {
        let messages: [(SparkplugTopic, [UInt8])] = [
            (nodeBirthTopic, M.nodeBirth(bdSeq: 1, [M.metric("a", alias: 1, type: .int16, .intValue(65_535))])),
            (nodeDataTopic, M.payload(seq: 1, [M.metric(nil, alias: 1, .intValue(7))])),
            (nodeDataTopic, M.payload(seq: 9, [M.metric(nil, alias: 2, .intValue(7))])),
            (nodeBirthTopic, M.nodeBirth(bdSeq: 2, [M.metric("b", alias: 2, type: .int16, .intValue(3))])),
            (nodeDataTopic, M.payload(seq: 1, [M.metric(nil, alias: 2, .intValue(4)), M.metric(nil, alias: 1, .intValue(4))])),
        ]
        func run() -> [String] {
            var session = SparkplugSession()
            return messages.map { topic, bytes in
                let outcome = session.receive(topic: topic, payload: bytes, receivedAt: received)
                return "\(outcome.readings) \(outcome.problems) \(outcome.rebirthNeeded)"
            }
        }
        let live = run()
        #expect(run() == live)
        // The second birth replaced the first's aliases: alias 1 is unknown again.
        #expect(live[4].contains("sparkplug_unknown_alias"))
    }

    @Test("rebirth requests are rate-limited per edge node and are NCMDs setting Node Control/Rebirth")
    func rebirth() throws {
        var requests = RebirthRequests(interval: .seconds(10))
        let node = SparkplugEdgeNode(group: "plant", node: "edge-1")
        let other = SparkplugEdgeNode(group: "plant", node: "edge-2")
        let answers = [
            requests.shouldRequest(node, now: received),
            requests.shouldRequest(node, now: received.adding(nanoseconds: 9_000_000_000)),
            requests.shouldRequest(other, now: received),
            requests.shouldRequest(node, now: received.adding(nanoseconds: 10_000_000_000)),
        ]
        #expect(answers == [true, false, true, true])

        let command = try RebirthRequests.command(for: node, now: received)
        #expect(command.topic == "spBv1.0/plant/NCMD/edge-1")
        let payload = try Kappa_Sparkplug_Payload(serializedBytes: command.payload)
        #expect(payload.metrics.map(\.name) == ["Node Control/Rebirth"])
        #expect(payload.metrics.first?.booleanValue == true)
    }

    @Test("the host's STATE birth and will share the session's timestamp")
    func hostState() {
        let state = SparkplugHostState(hostID: "kappa")
        #expect(state.topic == "spBv1.0/STATE/kappa")
        #expect(String(decoding: state.payload(online: true, sessionStart: received), as: UTF8.self) == #"{"online":true,"timestamp":1764500100000}"#)
        #expect(String(decoding: state.payload(online: false, sessionStart: received), as: UTF8.self) == #"{"online":false,"timestamp":1764500100000}"#)
    }
}
