/// The rows a query returned, copied out of libpq so they outlive the connection call.
///
/// Values arrive in PostgreSQL's text format: every type has one (so `string` works for `numeric`, arrays or
/// `interval` alike, which `kappa query` prints), and with the session's `DateStyle=ISO` and `TimeZone=UTC`
/// (set on connect) and PostgreSQL ≥ 12's shortest-exact float output, decoding is exact for the types
/// Kappa reads. The cells live in one byte buffer, not one allocation per value.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public struct Column: Sendable, Hashable {
        public let name: String
        /// The PostgreSQL type OID of the column (`20` int8, `701` float8, `1184` timestamptz…).
        public let typeOID: UInt32
        /// A readable type name for the common OIDs, `"oid N"` otherwise.
        public var typeName: String { PostgresTypeOID.name(typeOID) }
    }

    public let columns: [Column]
    /// The command tag: `SELECT 3`, `INSERT 0 1`, `COMMIT`, or `ROLLBACK` for a COMMIT of a failed transaction.
    public let commandTag: String
    /// The command tag's row count: rows inserted, updated, deleted or selected (0 when the command has none).
    public let affectedRows: Int
    let bytes: [UInt8]
    /// Per cell (row-major): start offset into `bytes` and length, or length -1 for NULL.
    let cells: [(start: Int32, length: Int32)]
    private let columnIndexByName: [String: Int]

    init(columns: [Column], commandTag: String, affectedRows: Int, bytes: [UInt8], cells: [(start: Int32, length: Int32)]) {
        self.columns = columns
        self.commandTag = commandTag
        self.affectedRows = affectedRows
        self.bytes = bytes
        self.cells = cells
        var indexByName: [String: Int] = [:]
        for (index, column) in columns.enumerated() where indexByName[column.name] == nil {
            indexByName[column.name] = index
        }
        self.columnIndexByName = indexByName
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < endIndex, "row \(position) out of range 0..<\(endIndex)")
        return PostgresRow(rows: self, index: position)
    }

    /// The index of the first column called `name`.
    public func columnIndex(_ name: String) -> Int? { columnIndexByName[name] }
}

/// One row of ``PostgresRows``; cells by position (`row[0]`) or by column name (`row["device"]`).
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    public var count: Int { rows.columns.count }

    public subscript(column: Int) -> PostgresCell {
        precondition(column >= 0 && column < rows.columns.count, "column \(column) out of range")
        let cell = rows.cells[index * rows.columns.count + column]
        let value: ArraySlice<UInt8>? =
            cell.length < 0 ? nil : rows.bytes[Int(cell.start)..<Int(cell.start) + Int(cell.length)]
        return PostgresCell(column: rows.columns[column], bytes: value)
    }

    /// The cell of the first column called `name`; a missing column gives a cell whose accessors throw.
    public subscript(name: String) -> PostgresCell {
        guard let column = rows.columnIndex(name) else {
            return PostgresCell(missingColumn: name)
        }
        return self[column]
    }
}
