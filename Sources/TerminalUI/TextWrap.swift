/// Word wrapping measured in display columns.
///
/// Lines break after spaces; a word longer than the width is cut where it must be. The space at a
/// break is dropped, so continuation lines start with text. Wide characters never straddle lines.
public enum TextWrap {
    /// Wraps one logical line (no newlines) of styled runs.
    public static func wrap(_ runs: [StyledRun], width: Int) -> [[StyledRun]] {
        guard width > 0 else { return [] }
        var lines: [[StyledRun]] = []
        var line: [(Character, Style)] = []
        var lineWidth = 0
        /// Index in `line` just after the last space, where the line may break.
        var breakIndex: Int?
        var widthAtBreak = 0

        func emit(_ characters: ArraySlice<(Character, Style)>) {
            var trimmed = characters
            while let last = trimmed.last, last.0 == " " { trimmed = trimmed.dropLast() }
            lines.append(group(trimmed))
        }

        for run in runs {
            for character in run.text {
                let characterWidth = DisplayWidth.of(character)
                if character == " ", line.isEmpty, !lines.isEmpty { continue }
                if lineWidth + characterWidth > width, !line.isEmpty {
                    if character == " " {
                        emit(line[...])
                        line = []
                        lineWidth = 0
                        breakIndex = nil
                        continue
                    }
                    if let cut = breakIndex, cut > 0 {
                        emit(line[..<cut])
                        line = Array(line[cut...])
                        lineWidth -= widthAtBreak
                    }
                    // What is left may still not fit beside a wide character: cut it there.
                    if lineWidth + characterWidth > width, !line.isEmpty {
                        emit(line[...])
                        line = []
                        lineWidth = 0
                    }
                    breakIndex = nil
                }
                line.append((character, run.style))
                lineWidth += characterWidth
                if character == " " {
                    breakIndex = line.count
                    widthAtBreak = lineWidth
                }
            }
        }
        if !line.isEmpty || lines.isEmpty { emit(line[...]) }
        return lines
    }

    /// Wraps plain text, honouring its newlines.
    public static func wrap(_ text: String, width: Int) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { paragraph in
            wrap([StyledRun(String(paragraph))], width: width).map { $0.map(\.text).joined() }
        }
    }

    private static func group(_ characters: ArraySlice<(Character, Style)>) -> [StyledRun] {
        var runs: [StyledRun] = []
        for (character, style) in characters {
            if let last = runs.last, last.style == style {
                runs[runs.count - 1].text.append(character)
            } else {
                runs.append(StyledRun(String(character), style))
            }
        }
        return runs
    }
}
