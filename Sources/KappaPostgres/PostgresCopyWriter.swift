import KappaCore

/// Streams rows into a running `COPY … FROM STDIN (FORMAT binary)`; see
/// ``PostgresConnection/copyFrom(table:schema:columns:isolation:_:)``.
///
/// Appends only fill a buffer; call ``flushIfNeeded()`` every row or every few rows and it ships the buffer
/// to the server once it holds ``flushThreshold`` bytes, so memory stays bounded however many rows flow.
/// Not `Sendable`: it belongs to the closure it was handed to.
public final class PostgresCopyWriter {
    /// The buffer of rows not yet sent; appending to it directly is fine.
    public var encoder = PostgresBinaryCopyEncoder()
    /// How many buffered bytes make ``flushIfNeeded()`` send (1 MiB by default).
    public var flushThreshold: Int
    private let connection: PostgresConnection
    /// Rows appended through this writer (for logs; the server's count is what `copyFrom` returns).
    public private(set) var rowCount = 0

    init(connection: PostgresConnection, flushThreshold: Int) {
        self.connection = connection
        self.flushThreshold = flushThreshold
    }

    /// Starts a row; then append exactly `fieldCount` fields.
    public func beginRow(fieldCount: Int) {
        encoder.beginRow(fieldCount: fieldCount)
        rowCount += 1
    }

    /// Appends a whole row.
    public func appendRow(_ values: [PostgresValue]) {
        beginRow(fieldCount: values.count)
        for value in values { encoder.append(value) }
    }

    public func appendNull() { encoder.appendNull() }
    public func append(_ value: Bool) { encoder.append(value) }
    public func append(_ value: Int32) { encoder.append(value) }
    public func append(_ value: Int64) { encoder.append(value) }
    public func append(_ value: Double) { encoder.append(value) }
    public func append(_ value: String) { encoder.append(value) }
    public func append(_ value: Timestamp) { encoder.append(value) }
    public func append(bytes value: some Collection<UInt8>) { encoder.append(bytes: value) }
    public func append(jsonb value: String) { encoder.append(jsonb: value) }
    public func append(_ value: PostgresValue) { encoder.append(value) }

    /// Sends the buffer if it holds at least ``flushThreshold`` bytes.
    public func flushIfNeeded() async throws {
        if encoder.bytes.count >= flushThreshold {
            try await flush()
        }
    }

    /// Sends whatever is buffered.
    public func flush() async throws {
        let chunk = encoder.takeBytes()
        guard !chunk.isEmpty else { return }
        try await connection.onQueue { try $0.putCopyData(chunk) }
    }

    func finish() async throws {
        encoder.appendTrailer()
        try await flush()
    }
}

extension PostgresConnection {
    /// Bulk-loads rows with `COPY table (columns…) FROM STDIN (FORMAT binary)` and returns the rows copied.
    ///
    /// `body` appends rows to the writer (calling ``PostgresCopyWriter/flushIfNeeded()`` as it goes); when it
    /// returns, the data is ended and the server's count returned. If `body` throws, the server is told to fail
    /// the COPY, so no row of it is kept, and the error is rethrown. Inside
    /// ``withTransaction(_:isolation:_:)`` the rows commit with the rest of the transaction.
    ///
    /// ```swift
    /// let copied = try await connection.copyFrom(table: "readings", schema: "kappa",
    ///                                            columns: ["device", "time", "value"]) { rows in
    ///     for reading in readings {
    ///         rows.beginRow(fieldCount: 3)
    ///         rows.append(reading.device)
    ///         rows.append(reading.time)
    ///         rows.append(reading.value)
    ///         try await rows.flushIfNeeded()
    ///     }
    /// }
    /// ```
    public func copyFrom(
        table: String,
        schema: String? = nil,
        columns: [String],
        flushThreshold: Int = 1 << 20,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresCopyWriter) async throws -> Void
    ) async throws -> Int {
        let target = PostgresIdentifier(table).qualified(in: schema.map(PostgresIdentifier.init))
        let columnList = columns.map { PostgresIdentifier($0).quoted }.joined(separator: ", ")
        let sql = "COPY \(target) (\(columnList)) FROM STDIN (FORMAT binary)"
        try await onQueue { try $0.beginCopy(sql) }
        let writer = PostgresCopyWriter(connection: self, flushThreshold: flushThreshold)
        do {
            try await body(writer)
            try await writer.finish()
        } catch {
            let reason = "aborted by the client: \(type(of: error))"
            _ = try? await onQueue { $0.abortCopy(reason: reason) }
            throw error
        }
        return try await onQueue { try $0.endCopy() }
    }
}
