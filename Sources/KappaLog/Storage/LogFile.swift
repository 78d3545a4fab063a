#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor, closed when the last reference goes.
///
/// Readers keep a segment's file alive while they `pread` it, even if retention unlinks the segment meanwhile.
final class LogFile: Sendable {
    let descriptor: Int32
    let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(LogError) -> LogFile {
        let descriptor = try systemCall("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return LogFile(descriptor: descriptor, path: path)
    }

    deinit {
        _ = close(descriptor)
    }

    /// Writes all of `bytes` at `position`, looping over partial writes.
    func write(_ bytes: UnsafeRawBufferPointer, at position: Int64) throws(LogError) {
        var done = 0
        while done < bytes.count {
            let written = try systemCall("pwrite", path: path) {
                pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(position) + off_t(done))
            }
            done += written
        }
    }

    func write(_ bytes: [UInt8], at position: Int64) throws(LogError) {
        let failure: LogError? = bytes.withUnsafeBytes { buffer in
            do throws(LogError) { try write(buffer, at: position) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Reads up to `buffer.count` bytes at `position`, looping over short reads; fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at position: Int64) throws(LogError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = try systemCall("pread", path: path) {
                pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(position) + off_t(done))
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Reads `count` bytes at `position` (fewer at end of file). The array is not zeroed first: `pread` fills it,
    /// and only the bytes it read are kept (zeroing a processor's megabyte reads cost as much as the reads).
    func read(count: Int, at position: Int64) throws(LogError) -> [UInt8] {
        var failure: LogError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(LogError) {
                initialized = try self.read(into: UnsafeMutableRawBufferPointer(buffer), at: position)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    func size() throws(LogError) -> Int64 {
        var info = stat()
        try systemCall("fstat", path: path) { fstat(descriptor, &info) }
        return Int64(info.st_size)
    }

    func sync() throws(LogError) {
        try systemCall("fdatasync", path: path) { fdatasync(descriptor) }
    }

    func truncate(to size: Int64) throws(LogError) {
        try systemCall("ftruncate", path: path) { ftruncate(descriptor, off_t(size)) }
    }
}

/// Small-file and directory helpers for metadata, offsets and index files.
enum FileSystem {
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func makeDirectory(_ path: String) throws(LogError) {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        try systemCall("mkdir", path: path) { Int32(-1) }
    }

    static func makeDirectories(_ path: String) throws(LogError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            try makeDirectory(current)
        }
    }

    /// Names in a directory, without `.` and `..`, sorted.
    static func contents(of path: String) throws(LogError) -> [String] {
        guard let directory = opendir(path) else {
            var error = LogError(code: .systemCallFailed, message: "cannot list directory")
            error.systemCall = "opendir"
            error.errno = errno
            error.path = path
            throw error
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func readFile(_ path: String) throws(LogError) -> [UInt8] {
        let file = try LogFile.open(path, flags: O_RDONLY)
        return try file.read(count: Int(file.size()), at: 0)
    }

    /// Replaces `path` atomically: write a temporary file, fsync it, rename over, fsync the directory.
    static func replaceAtomically(_ path: String, with bytes: [UInt8]) throws(LogError) {
        let temporary = path + ".tmp"
        let file = try LogFile.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try file.write(bytes, at: 0)
        try file.sync()
        try systemCall("rename", path: path) { rename(temporary, path) }
        try syncDirectory(containing: path)
    }

    static func syncDirectory(containing path: String) throws(LogError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let handle = try LogFile.open(directory.isEmpty ? "." : directory, flags: O_RDONLY | O_DIRECTORY)
        try systemCall("fsync", path: handle.path) { fsync(handle.descriptor) }
    }

    static func remove(_ path: String) throws(LogError) {
        if unlink(path) == 0 || errno == ENOENT { return }
        try systemCall("unlink", path: path) { Int32(-1) }
    }

    static func modificationTime(_ path: String) throws(LogError) -> Int64 {
        var info = stat()
        try systemCall("stat", path: path) { stat(path, &info) }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    static func freeBytes(at path: String) throws(LogError) -> Int64 {
        var info = statvfs()
        try systemCall("statvfs", path: path) { statvfs(path, &info) }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
