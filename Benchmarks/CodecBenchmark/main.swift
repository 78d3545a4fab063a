// Decode throughput of KappaCore's payload codecs beside Foundation's decoders on the same payloads,
// Sparkplug B beside the JSON route, and the binary record encode/decode rate beside a plain byte copy. Run: swift run -c release CodecBenchmark
import Foundation
import KappaCore
import KappaSparkplug

// MARK: Payloads, shaped like what devices send

let telemetryObject = #"{"ts": 1732400000000, "temperature": 21.5, "humidity": 40.1, "pressure": 1013.25, "battery": 3.71}"#
let valuesObject = #"{"ts": 1732400000000, "values": {"temperature": 21.5, "humidity": 40.1, "pressure": 1013.25, "battery": 3.71}}"#
let batchArray = "[" + (0..<10).map { i in
    #"{"ts": \#(1_732_400_000_000 + i * 1000), "temperature": 2\#(i).5, "humidity": 4\#(i).1, "pressure": 101\#(i).25, "battery": 3.7\#(i)}"#
}.joined(separator: ", ") + "]"
let bareNumber = "21.5"
let lineProtocol = (0..<10).map { i in
    "weather,device=sensor-0042,room=kitchen temperature=2\(i).5,humidity=4\(i)i,pressure=101\(i).25,battery=3.7\(i) \(1_732_400_000_000_000_000 + i * 1_000_000_000)"
}.joined(separator: "\n")

struct Telemetry: Decodable {
    var ts: Int64
    var temperature: Double
    var humidity: Double
    var pressure: Double
    var battery: Double
}

struct ValuesTelemetry: Decodable {
    struct Values: Decodable {
        var temperature: Double
        var humidity: Double
        var pressure: Double
        var battery: Double
    }
    var ts: Int64
    var values: Values
}

// MARK: Measuring

/// The case to run under callgrind (see "One case under callgrind"), or nil to time every case.
let profiledCase = ProcessInfo.processInfo.environment["CODEC_PROFILE"]
let profiledCalls = 20_000
let warmUpCalls = 1_000

/// Runs `body` (one call = one message) in growing rounds until `seconds` have passed; calls per second.
/// When profiling, exactly `profiledCalls` calls, untimed.
func rate(seconds: Double = 1.5, _ body: () -> Int) -> (perSecond: Double, sink: Int) {
    let clock = ContinuousClock()
    var sink = 0
    for _ in 0..<warmUpCalls { sink &+= body() }
    if profiledCase != nil {
        for _ in 0..<profiledCalls { sink &+= body() }
        return (0, sink)
    }
    var calls = 0
    var batch = 1_000
    let start = clock.now
    var elapsed = Duration.zero
    while elapsed < .milliseconds(Int(seconds * 1_000)) {
        for _ in 0..<batch { sink &+= body() }
        calls += batch
        batch = min(batch * 2, 200_000)
        elapsed = clock.now - start
    }
    let (whole, attoseconds) = elapsed.components
    return (Double(calls) / (Double(whole) + Double(attoseconds) / 1e18), sink)
}

func millions(_ value: Double) -> String { String(format: "%8.3f M", value / 1e6) }

let receivedAt = Timestamp(millisecondsSinceEpoch: 1_732_400_060_000)
let decoder = PayloadDecoder()
var readings: [Reading] = []
var problems: [DecodeProblem] = []
readings.reserveCapacity(64)
var sinks = 0

@MainActor func kappaRate(_ payload: String, _ format: PayloadFormat, metric: String? = nil) -> (messages: Double, readings: Double) {
    let bytes = Array(payload.utf8)
    let match = TopicMatch(format: format, device: "sensor-0042", metric: metric, tags: [Tag(key: "site", value: "berlin")])
    var perMessage = 0
    let (messages, sink) = bytes.withUnsafeBytes { raw in
        rate {
            readings.removeAll(keepingCapacity: true)
            problems.removeAll(keepingCapacity: true)
            decoder.decode(match: match, payload: raw, receivedAt: receivedAt, into: &readings, problems: &problems)
            perMessage = readings.count
            precondition(problems.isEmpty, "benchmark payload must decode cleanly: \(problems)")
            return readings.count
        }
    }
    sinks &+= sink
    return (messages, messages * Double(perMessage))
}

@MainActor func foundationRate<T: Decodable>(_ payload: String, as type: T.Type, seconds: Double = 1.5) -> Double {
    let data = Data(payload.utf8)
    let jsonDecoder = JSONDecoder()
    let (messages, sink) = rate(seconds: seconds) {
        (try? jsonDecoder.decode(T.self, from: data)) == nil ? 0 : 1
    }
    sinks &+= sink
    return messages
}

@MainActor func serializationRate(_ payload: String) -> Double {
    let data = Data(payload.utf8)
    let (messages, sink) = rate {
        (try? JSONSerialization.jsonObject(with: data)) == nil ? 0 : 1
    }
    sinks &+= sink
    return messages
}

// MARK: A mapped route (issue 16) beside JSONDecoder on the same payloads

let nestedOptions = "readings=/data/sensors/env;time=/time;time_format=rfc3339;tags=status"
let nestedPayload = #"{"meta":{"site":"berlin"},"time":"2024-11-23T22:13:20.5Z","data":{"sensors":{"env":{"temperature":21.5,"humidity":40.1,"pressure":1013.25,"battery":3.71,"status":"ok"}}}}"#

struct NestedTelemetry: Decodable {
    struct Meta: Decodable { var site: String }
    struct Data: Decodable {
        struct Sensors: Decodable {
            struct Environment: Decodable {
                var temperature: Double
                var humidity: Double
                var pressure: Double
                var battery: Double
                var status: String
            }
            var env: Environment
        }
        var sensors: Sensors
    }
    var meta: Meta
    var time: String
    var data: Data
}

@MainActor func mappedRate(_ payload: String, options: String, seconds: Double = 1.5) -> (messages: Double, readings: Double) {
    let bytes = Array(payload.utf8)
    let mapping = try! PayloadMapping(options: options)
    let match = TopicMatch(format: .json, device: "sensor-0042", tags: [Tag(key: "site", value: "berlin")], mapping: mapping)
    let at = Timestamp(rfc3339: "2024-11-23T22:14:00Z")!
    var perMessage = 0
    let (messages, sink) = bytes.withUnsafeBytes { raw in
        rate(seconds: seconds) {
            readings.removeAll(keepingCapacity: true)
            problems.removeAll(keepingCapacity: true)
            decoder.decode(match: match, payload: raw, receivedAt: at, into: &readings, problems: &problems)
            perMessage = readings.count
            precondition(problems.isEmpty && readings.count == 4, "benchmark payload must decode cleanly: \(problems)")
            return readings.count
        }
    }
    sinks &+= sink
    return (messages, messages * Double(perMessage))
}

// MARK: Sparkplug B: DDATA by alias after the births that declared the aliases

let sparkplugMetricsPerMessage = 16

/// Decodes DDATA messages of `sparkplugMetricsPerMessage` metrics, each named by the alias its DBIRTH declared,
/// as the bridge's Sparkplug intake does: topic, session (protobuf, aliases, `seq`), then the limits every
/// reading meets. 256 messages in turn, so `seq` runs on without a gap.
@MainActor func sparkplugRate() -> (messages: Double, metrics: Double) {
    let at = Timestamp(rfc3339: "2024-11-23T22:14:00Z")!
    var publisher = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant-berlin", node: "line-4"))
    let names = (0..<sparkplugMetricsPerMessage).map { "press-\($0 / 4)/\(["temperature", "pressure", "vibration", "current"][$0 % 4])" }
    let births = [
        try! publisher.nodeBirth([], at: at),
        try! publisher.deviceBirth("cell-7", names.map { ($0, 0) }, at: at),
    ]
    let data = (0..<256).map { round in
        try! publisher.data("cell-7", names.enumerated().map { ($1, Double(round) + Double($0) / 10, at) }, at: at)
    }
    var session = SparkplugSession()
    for birth in births {
        _ = session.receive(topic: SparkplugTopic(birth.topic)!, payload: birth.payload, receivedAt: at)
    }
    var next = 0
    let (messages, sink) = rate {
        let message = data[next]
        next = (next + 1) & 255
        readings.removeAll(keepingCapacity: true)
        problems.removeAll(keepingCapacity: true)
        let outcome = session.receive(topic: SparkplugTopic(message.topic)!, payload: message.payload, receivedAt: at)
        readings += outcome.readings
        problems += outcome.problems
        decoder.admit(&readings, from: 0, receivedAt: at, problems: &problems)
        precondition(problems.isEmpty && !outcome.rebirthNeeded && readings.count == sparkplugMetricsPerMessage, "benchmark messages must decode cleanly: \(problems)")
        return readings.count
    }
    sinks &+= sink
    return (messages, messages * Double(sparkplugMetricsPerMessage))
}

// MARK: One case under callgrind

// `CODEC_PROFILE=mapped valgrind --tool=callgrind .build/release/CodecBenchmark` runs one case a fixed number
// of times instead of timing every case: instruction counts repeat on a loaded machine where rates do not.
if let profiledCase {
    switch profiledCase {
    case "object": _ = kappaRate(telemetryObject, .json)
    case "values": _ = kappaRate(valuesObject, .json)
    case "batch": _ = kappaRate(batchArray, .json)
    case "mapped": _ = mappedRate(nestedPayload, options: nestedOptions)
    case "sparkplug": _ = sparkplugRate()
    default:
        print("CODEC_PROFILE: object, values, batch, mapped or sparkplug, not '\(profiledCase)'")
        exit(2)
    }
    print("CODEC_PROFILE=\(profiledCase): \(profiledCalls) calls after \(warmUpCalls) to warm up")
    exit(0)
}

// MARK: Codecs beside Foundation

print("Payload decoding, messages/s (readings/s), same process, same payloads")
print("codec                     KappaCore msg/s   readings/s     JSONDecoder msg/s  ratio    JSONSerialization msg/s  ratio")
for (name, payload, codable) in [
    ("JSON object (4 fields)", telemetryObject, Telemetry.self as any Decodable.Type),
    ("JSON values (4 fields)", valuesObject, ValuesTelemetry.self),
    ("JSON batch (10 x 4)", batchArray, [Telemetry].self),
] {
    let kappa = kappaRate(payload, .json)
    let foundation = foundationRate(payload, as: codable)
    let serialization = serializationRate(payload)
    print("\(name.padding(toLength: 24, withPad: " ", startingAt: 0))  \(millions(kappa.messages))    \(millions(kappa.readings))     \(millions(foundation))     \(String(format: "%5.1fx", kappa.messages / foundation))   \(millions(serialization))           \(String(format: "%5.1fx", kappa.messages / serialization))")
}
let bare = kappaRate(bareNumber, .number, metric: "temperature")
let bareFoundation = foundationRate(bareNumber, as: Double.self)
print("\("bare number".padding(toLength: 24, withPad: " ", startingAt: 0))  \(millions(bare.messages))    \(millions(bare.readings))     \(millions(bareFoundation))     \(String(format: "%5.1fx", bare.messages / bareFoundation))")
let influx = kappaRate(lineProtocol, .lineProtocol)
print("\("line protocol (10 x 4)".padding(toLength: 24, withPad: " ", startingAt: 0))  \(millions(influx.messages))    \(millions(influx.readings))     (no Foundation equivalent)")

print("")
print("Mapped route: readings under a 3-level path, time by path (RFC 3339), a string as a tag; JSONDecoder into a struct of the same shape")
// Measured in turn, five times, so that a change of load on a shared machine hits both sides: the medians of the
// rates and of the five ratios, and the lowest ratio.
var mappedRounds: [(mapped: (messages: Double, readings: Double), foundation: Double)] = []
for _ in 0..<5 {
    mappedRounds.append((mappedRate(nestedPayload, options: nestedOptions, seconds: 0.5), foundationRate(nestedPayload, as: NestedTelemetry.self, seconds: 0.5)))
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
let mappedRatios = mappedRounds.map { $0.mapped.messages / $0.foundation }
print("\("JSON, 3-level path (4)".padding(toLength: 24, withPad: " ", startingAt: 0))  \(millions(median(mappedRounds.map(\.mapped.messages))))    \(millions(median(mappedRounds.map(\.mapped.readings))))     \(millions(median(mappedRounds.map(\.foundation))))     \(String(format: "%5.1fx", median(mappedRatios)))   (5 rounds in turn, lowest ratio \(String(format: "%.1fx", mappedRatios.min()!)))")

print("")
print("Sparkplug B DDATA, \(sparkplugMetricsPerMessage) metrics by alias per message, beside the JSON object route (readings/s)")
let sparkplug = sparkplugRate()
let sparkplugComparator = kappaRate(telemetryObject, .json)
print("\("Sparkplug DDATA (\(sparkplugMetricsPerMessage))".padding(toLength: 24, withPad: " ", startingAt: 0))  \(millions(sparkplug.messages))    \(millions(sparkplug.metrics))     JSON object \(millions(sparkplugComparator.readings)) readings/s   ratio \(String(format: "%5.2fx", sparkplug.metrics / sparkplugComparator.readings))")

// MARK: Binary records beside a plain copy of the same bytes

let sample = Reading(
    device: "sensor-0042", metric: "temperature", time: receivedAt, value: 21.5,
    tags: [Tag(key: "site", value: "berlin")]
)
var buffer: [UInt8] = []
buffer.reserveCapacity(256)
let encoded = ReadingRecord.encode(sample)
let encodeRate = rate {
    buffer.removeAll(keepingCapacity: true)
    ReadingRecord.encode(sample, into: &buffer)
    return buffer.count
}
let decodeRate = encoded.withUnsafeBytes { raw in
    rate { (try? ReadingRecord.decode(raw))?.metric.utf8.count ?? 0 }
}
let copyRate = encoded.withUnsafeBytes { raw in
    rate {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: raw)
        return buffer.count
    }
}
sinks &+= encodeRate.sink &+ decodeRate.sink &+ copyRate.sink
print("")
print("Reading record (\(encoded.count) bytes), records/s, beside appending the same bytes to a buffer")
print("encode  \(millions(encodeRate.perSecond))   copy \(millions(copyRate.perSecond))   ratio \(String(format: "%5.2fx", encodeRate.perSecond / copyRate.perSecond))")
print("decode  \(millions(decodeRate.perSecond))   copy \(millions(copyRate.perSecond))   ratio \(String(format: "%5.2fx", decodeRate.perSecond / copyRate.perSecond))")
// MARK: Hostile payloads beside benign ones of the same size

/// Seconds for one call of `body`, the best of `rounds`.
@MainActor func bestSeconds(rounds: Int = 5, _ body: () -> Int) -> Double {
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<rounds {
        let start = clock.now
        sinks &+= body()
        let (whole, attoseconds) = (clock.now - start).components
        best = min(best, Double(whole) + Double(attoseconds) / 1e18)
    }
    return best
}

/// Large enough for both payloads below, which must be decoded, not rejected for size.
let roomyDecoder = PayloadDecoder(limits: DecodingLimits(maxPayloadBytes: 1 << 20))

@MainActor func decodeOnce(_ payload: [UInt8], _ format: PayloadFormat) -> Int {
    readings.removeAll(keepingCapacity: true)
    problems.removeAll(keepingCapacity: true)
    let match = TopicMatch(format: format, device: "sensor-0042")
    roomyDecoder.decode(match: match, payload: payload, receivedAt: receivedAt, into: &readings, problems: &problems)
    return readings.count + problems.count
}

let fieldCount = 26_000
let oneWideLine = Array(("m " + (0..<fieldCount).map { "f\($0)=1" }.joined(separator: ",")).utf8)
let manyNarrowLines = Array((0..<fieldCount).map { "m f\($0)=1" }.joined(separator: "\n").utf8)
let wide = bestSeconds { decodeOnce(oneWideLine, .lineProtocol) }
precondition(readings.count == fieldCount && problems.isEmpty, "the wide line must decode to \(fieldCount) readings")
let narrow = bestSeconds { decodeOnce(manyNarrowLines, .lineProtocol) }
precondition(readings.count == fieldCount && problems.isEmpty, "the narrow lines must decode to \(fieldCount) readings")
print("")
print("Hostile payloads, seconds per message (best of 5), beside a benign payload of the same readings")
print("line protocol, 1 line x \(fieldCount) fields   \(String(format: "%.4f", wide)) s   \(fieldCount) lines x 1 field \(String(format: "%.4f", narrow)) s   ratio \(String(format: "%5.2fx", wide / narrow))")

let tenMegabytes = [UInt8](repeating: UInt8(ascii: "7"), count: 10 << 20)
let capped = bestSeconds {
    let letter = DeadLetter(topic: "devices/d/telemetry", payload: tenMegabytes, receivedAt: receivedAt, problems: [DecodeProblem(reason: .oversizedPayload, message: "m")])
    return DeadLetterRecord.encode(letter).count
}
let copied = bestSeconds { tenMegabytes.withUnsafeBytes { Array($0) }.count }
print("dead letter of a 10 MiB payload (prefix + SHA-256)   \(String(format: "%.4f", capped)) s   copying the payload \(String(format: "%.4f", copied)) s   ratio \(String(format: "%5.1fx", capped / copied))")

if sinks == 42 { print("") }  // keeps the optimiser from dropping the work
