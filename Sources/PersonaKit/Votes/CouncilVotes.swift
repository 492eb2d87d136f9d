import Foundation

extension CouncilOutcome {
    /// Each readable verdict as a vote (source `council`, blind: reviewers see labels only). A
    /// candidate is an answer the reviewer was shown, where it was shown; `answers` are the
    /// members' saved answers of the council's first stage.
    public func votes(session: String, turn: Int?, round: Int, prompt: String, answers: [TranscriptMessage],
                      time: Date = Date()) -> [Vote] {
        let byAuthor = Dictionary(answers.map { ($0.speaker, $0) }, uniquingKeysWith: { _, last in last })
        return verdicts.compactMap { verdict in
            guard let ranking = verdict.ranking else { return nil }
            let candidates = verdict.order.enumerated().compactMap { position, label -> VoteCandidate? in
                guard let author = ballot.author(of: label), let answer = byAuthor[author],
                      let provider = answer.provider, let model = answer.model else { return nil }
                return VoteCandidate(label: label, position: position, persona: author, provider: provider, model: model,
                                     costPicos: answer.costPicos, outputTokens: answer.outputTokens, answer: answer.answer)
            }
            let vote = Vote(time: time, source: .council, blind: true, session: session, turn: turn, round: round,
                            promptHash: SHA256.hex(Array(prompt.utf8)), reviewer: verdict.reviewer, candidates: candidates,
                            order: ranking.map { [$0] })
            return vote.problems.isEmpty ? vote : nil
        }
    }
}
