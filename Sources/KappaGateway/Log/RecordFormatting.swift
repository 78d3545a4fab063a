import KappaLog

/// How `kappa log tail` and `kappa log dump` print a record.
public enum RecordFormatting {
    /// Key and value as UTF-8 when printable, else hex: the log does not know the record formats.
    public static func text(_ bytes: some Collection<UInt8>) -> String {
        let printable = bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }
        if printable, let string = String(validating: Array(bytes), as: UTF8.self) { return string }
        return "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// `readings/3@42 2025-01-01T00:00:00Z key=pump-1 value=…`.
    public static func line(stream: String, partition: Int, _ record: LogRecord) -> String {
        "\(stream)/\(partition)@\(record.offset) \(record.eventTime) key=\(text(record.key)) value=\(text(record.value))"
    }
}
