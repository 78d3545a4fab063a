/// Builds the payload of each telemetry format from a tick's values. Every shape is one KappaCore's
/// decoders accept (the tests decode what this writes).
struct PayloadEncoder {
    /// `"temperature":` per metric, shared by every device of a kind.
    let jsonKeys: [[UInt8]]
    /// `temperature,device=` per metric.
    let lineMeasurements: [[UInt8]]

    init(metrics: [MetricModel]) {
        jsonKeys = metrics.map { metric in
            var key: [UInt8] = []
            PayloadBytes.appendJSONString(metric.name, to: &key)
            key.append(UInt8(ascii: ":"))
            return key
        }
        lineMeasurements = metrics.map { Array("\($0.name),device=".utf8) }
    }

    /// `{"ts":…,"temperature":21.5,…}`
    func object(timestampMilliseconds: Int64, values: [Double], to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"ts":"#.utf8)
        PayloadBytes.appendInteger(timestampMilliseconds, to: &bytes)
        for (key, value) in zip(jsonKeys, values) {
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: key)
            PayloadBytes.appendDecimal(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// `{"ts":…,"values":{"temperature":21.5,…}}`
    func valuesObject(timestampMilliseconds: Int64, values: [Double], to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"ts":"#.utf8)
        PayloadBytes.appendInteger(timestampMilliseconds, to: &bytes)
        bytes.append(contentsOf: #","values":{"#.utf8)
        for (position, (key, value)) in zip(jsonKeys, values).enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: key)
            PayloadBytes.appendDecimal(value, to: &bytes)
        }
        bytes.append(contentsOf: "}}".utf8)
    }

    /// One line per metric: `temperature,device=env-00042 value=21.5 <epoch ns>`.
    func lines(device: String, timestampMilliseconds: Int64, values: [Double], to bytes: inout [UInt8]) {
        for (position, (measurement, value)) in zip(lineMeasurements, values).enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: "\n")) }
            bytes.append(contentsOf: measurement)
            bytes.append(contentsOf: device.utf8)
            bytes.append(contentsOf: " value=".utf8)
            PayloadBytes.appendDecimal(value, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            PayloadBytes.appendInteger(timestampMilliseconds &* 1_000_000, to: &bytes)
        }
    }

    /// A bare number.
    static func number(_ value: Double) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        PayloadBytes.appendDecimal(value, to: &bytes)
        return bytes
    }
}
