import KappaCore

/// How a Sparkplug metric becomes readings.
///
/// - Numbers of every width and sign become their value; Boolean 0 or 1; DateTime its milliseconds since
///   the epoch. Signed types narrower than 64 bits travel two's-complement in the 32-bit field, so they
///   are read at their declared width (an Int8 of −1 arrives as 255 or as 4294967295, both read −1).
/// - A template instance becomes one reading per numeric member, named `{metric}/{member}`, to any depth
///   (template definitions in a birth declare types, not values, and are skipped).
/// - `is_null`, strings, text, UUIDs, bytes and files are skipped and counted; the edge node's own control
///   metrics (`bdSeq`, `Node Control/…`, `Device Control/…`) are skipped too.
/// - Data sets and arrays are dead-lettered: `sparkplug_unsupported_type`, naming the metric and the type.
enum MetricFlattening {
    static let maxTemplateDepth = 8

    static func append(
        _ metric: Kappa_Sparkplug_Payload.Metric, named name: String, type: UInt32?, device: String,
        time: Timestamp, source: TimeSource, depth: Int = 0, to outcome: inout SparkplugOutcome
    ) {
        if name == "bdSeq" || name.hasPrefix("Node Control/") || name.hasPrefix("Device Control/") || metric.isNull {
            outcome.skipped += 1
            return
        }
        let dataType = type.flatMap(SparkplugDataType.init(rawValue:))
        if case .templateValue(let template) = metric.value {
            guard !template.isDefinition else {
                outcome.skipped += 1
                return
            }
            guard depth < maxTemplateDepth else {
                outcome.problems.append(unsupported(name, "a template nested deeper than \(maxTemplateDepth) levels", device: device))
                return
            }
            for member in template.metrics where member.hasName {
                append(
                    member, named: "\(name)/\(member.name)", type: member.hasDatatype ? member.datatype : nil, device: device,
                    time: member.hasTimestamp ? Timestamp(sparkplugMilliseconds: member.timestamp) : time,
                    source: member.hasTimestamp ? .device : source, depth: depth + 1, to: &outcome
                )
            }
            return
        }
        switch value(of: metric, as: dataType) {
        case .number(let number):
            outcome.readings.append(Reading(device: device, metric: name, time: time, value: number, timeSource: source))
        case .skipped:
            outcome.skipped += 1
        case .unsupported(let what):
            outcome.problems.append(unsupported(name, what, device: device))
        }
    }

    enum Value {
        case number(Double)
        case skipped
        case unsupported(String)
    }

    static func value(of metric: Kappa_Sparkplug_Payload.Metric, as type: SparkplugDataType?) -> Value {
        switch metric.value {
        case nil:
            return .skipped
        case .stringValue:
            return .skipped
        case .bytesValue:
            // Arrays travel packed in the bytes field (specification 3.0, 6.4.17).
            if let type, type.rawValue >= SparkplugDataType.int8Array.rawValue { return .unsupported("an array (\(type.name))") }
            return .skipped
        case .datasetValue:
            return .unsupported("a DataSet")
        case .templateValue:
            return .skipped  // handled by the caller
        case .booleanValue(let flag):
            return .number(flag ? 1 : 0)
        case .floatValue(let float):
            return float.isFinite ? .number(Double(float)) : .unsupported("a non-finite Float")
        case .doubleValue(let double):
            return double.isFinite ? .number(double) : .unsupported("a non-finite Double")
        case .intValue(let raw):
            return integer(UInt64(raw), type: type)
        case .longValue(let raw):
            return integer(raw, type: type)
        }
    }

    private static func integer(_ raw: UInt64, type: SparkplugDataType?) -> Value {
        switch type {
        case .int8: .number(Double(Int8(truncatingIfNeeded: raw)))
        case .int16: .number(Double(Int16(truncatingIfNeeded: raw)))
        case .int32: .number(Double(Int32(truncatingIfNeeded: raw)))
        case .int64: .number(Double(Int64(bitPattern: raw)))
        case .uInt8: .number(Double(UInt8(truncatingIfNeeded: raw)))
        case .uInt16: .number(Double(UInt16(truncatingIfNeeded: raw)))
        case .uInt32: .number(Double(UInt32(truncatingIfNeeded: raw)))
        case .uInt64, .dateTime, nil: .number(Double(raw))
        case .boolean: .number(raw == 0 ? 0 : 1)
        case .float, .double: .number(Double(raw))
        case .string, .text, .uuid, .bytes, .file, .propertySet, .propertySetList, .template:
            .skipped
        case .dataSet:
            .unsupported("a DataSet")
        case .some(let array):
            .unsupported("an array (\(array.name))")
        }
    }

    private static func unsupported(_ name: String, _ what: String, device: String) -> DecodeProblem {
        DecodeProblem(
            reason: .sparkplugUnsupportedType,
            message: "metric '\(name)' of '\(device)' holds \(what), which has no single value to store",
            field: name
        )
    }
}
