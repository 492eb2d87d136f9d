import Foundation
import GRDB
import Synchronization

/// The `search_knowledge` tool's index: the Markdown and text files of a persona's `knowledge:`
/// folder, cut into passages and indexed with SQLite FTS5 in `persona.db`. A search first brings
/// the index up to date: files that changed (size or time) are read again, removed ones dropped.
public final class KnowledgeBase: Sendable {
    let path: String
    /// Opened on the first search: most runs never search.
    private let opened = Mutex<PersonaDatabase?>(nil)

    /// What is read of a folder: its first files, up to a size each.
    static let mostFiles = 2000
    static let largestFile = 2 << 20
    /// Passages are paragraphs, cut to about this many characters.
    static let passageLength = 800
    static let results = 5

    public init(path: String) {
        self.path = path
    }

    var database: PersonaDatabase {
        get throws {
            try opened.withLock { opened in
                if let opened { return opened }
                let database = try PersonaDatabase(path: path)
                opened = database
                return database
            }
        }
    }

    /// The best passages for `query` in `folder`, each headed `file:line`.
    public func search(_ query: String, in folder: String) throws -> String {
        try update(folder)
        let words = query.split { !$0.isLetter && !$0.isNumber }.map { "\"\($0)\"" }
        guard !words.isEmpty else { return "The query has no words to look for." }
        let rows = try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT knowledge_passages.path AS path, knowledge_passages.line AS line, knowledge_passages.text AS text
                FROM knowledge_passages WHERE knowledge_passages MATCH ? AND folder = ?
                ORDER BY bm25(knowledge_passages) LIMIT ?
                """, arguments: [words.joined(separator: " OR "), folder, Self.results])
        }
        guard !rows.isEmpty else { return "No passage in the knowledge folder matches \(ConfigIssue.echo(query))." }
        return rows.map { row in "\(row["path"] as String):\(row["line"] as Int)\n\(row["text"] as String)" }.joined(separator: "\n\n")
    }

    /// Reads again the files of `folder` that changed since they were indexed.
    func update(_ folder: String) throws {
        let files = Self.files(in: folder)
        let indexed = try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT path, size, modified_ns FROM knowledge_files WHERE folder = ?", arguments: [folder])
                .reduce(into: [String: (Int64, Int64)]()) { $0[$1["path"]] = ($1["size"], $1["modified_ns"]) }
        }
        let changed = files.filter { file in indexed[file.path].map { $0 != (file.size, file.modified) } ?? true }
        let removed = Set(indexed.keys).subtracting(files.map(\.path))
        guard !changed.isEmpty || !removed.isEmpty else { return }
        let passages = changed.map { file in (file, Self.passages(of: file.path)) }
        try database.pool.write { db in
            for path in removed.union(changed.map(\.path)) {
                try db.execute(sql: "DELETE FROM knowledge_passages WHERE folder = ? AND path = ?", arguments: [folder, path])
                try db.execute(sql: "DELETE FROM knowledge_files WHERE folder = ? AND path = ?", arguments: [folder, path])
            }
            for (file, pieces) in passages {
                try db.execute(sql: "INSERT INTO knowledge_files (folder, path, size, modified_ns) VALUES (?, ?, ?, ?)",
                               arguments: [folder, file.path, file.size, file.modified])
                for piece in pieces {
                    try db.execute(sql: "INSERT INTO knowledge_passages (text, folder, path, line) VALUES (?, ?, ?, ?)",
                                   arguments: [piece.text, folder, file.path, piece.line])
                }
            }
        }
    }

    struct File {
        let path: String
        let size: Int64
        let modified: Int64
    }

    static func files(in folder: String) -> [File] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [File] = []
        while let relative = walker.nextObject() as? String, files.count < mostFiles {
            let lowered = relative.lowercased()
            guard lowered.hasSuffix(".md") || lowered.hasSuffix(".txt") || lowered.hasSuffix(".markdown") else { continue }
            let path = URL(fileURLWithPath: folder).appendingPathComponent(relative).path
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= largestFile else { continue }
            files.append(File(path: path, size: Int64(info.st_size),
                              modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
        }
        return files.sorted { $0.path < $1.path }
    }

    /// A file's paragraphs with the line each starts on; a long one is cut into pieces.
    static func passages(of path: String) -> [(text: String, line: Int)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        var passages: [(text: String, line: Int)] = []
        var current: [String] = []
        var start = 1
        func close() {
            let text = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { passages.append((text, start)) }
            current = []
        }
        for (index, line) in lines.enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                close()
                continue
            }
            if current.isEmpty { start = index + 1 }
            current.append(line)
            if current.joined(separator: "\n").count >= passageLength { close() }
        }
        close()
        return passages
    }
}
