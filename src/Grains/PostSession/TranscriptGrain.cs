using Microsoft.Extensions.Logging;
using VoiceActors.PostSession.Persistence;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// Assembles the final transcript (speaker, text, start and end of every turn, in order) from the session's recorded turns and
/// stores it once. Stored only with the candidate's consent to transcription.
/// </summary>
[ImplicitStreamSubscription(PostSessionConsumers.StreamNamespace)]
public sealed partial class TranscriptGrain(IPostSessionRepository repository, TimeProvider clock, ILogger<TranscriptGrain> logger)
    : PostSessionConsumerGrain(PostSessionConsumers.Transcript), ITranscriptGrain
{
    protected override async Task HandleAsync(SessionCompleted completed)
    {
        var session = Session;
        var snapshot = await session.Get(completed.TenantId);
        if (snapshot.ErasedAt is null && completed.Consent.Transcription)
        {
            var turns = await session.GetTurns(completed.TenantId);
            var transcript = new TranscriptView(SessionId, Assemble(turns, completed.Transcript.TurnCount), clock.GetUtcNow());
            if (await repository.SaveTranscriptAsync(completed, transcript))
            {
                await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId, AuditActions.TranscriptStored, "transcript",
                    $"{transcript.Turns.Count} turns", clock.GetUtcNow()));
                LogStored(SessionId, transcript.Turns.Count);
            }
        }
    }

    Task<TranscriptView?> ITranscriptGrain.Get(string tenantId, string actor) =>
        ReadAuditedAsync(repository.GetTranscriptAsync(tenantId, SessionId), tenantId, "transcript", actor);

    /// <summary>The turns the event refers to, in the order they were spoken.</summary>
    internal static IReadOnlyList<TranscriptTurn> Assemble(IReadOnlyList<Turn> turns, int count)
    {
        var n = Math.Min(count, turns.Count);
        var ordered = turns.Take(n).Select((t, i) => (Turn: t, Index: i)).OrderBy(x => x.Turn.StartedAt).ThenBy(x => x.Index);
        return ordered.Select((x, seq) => new TranscriptTurn(seq, x.Turn.Speaker, x.Turn.Text, x.Turn.StartedAt, x.Turn.EndedAt)).ToArray();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Transcript of {SessionId} stored: {Turns} turns")]
    private partial void LogStored(string sessionId, int turns);
}
