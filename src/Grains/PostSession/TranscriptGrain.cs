using VoiceActors.LiveKit;
using Microsoft.Extensions.Logging;
using VoiceActors.PostSession.Persistence;
using VoiceActors.PostSession.Transcription;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// Assembles the final transcript (speaker, text, start and end of every turn, in order) and stores it once, saying where it
/// came from: the provider's turns, or, when the provider gave no transcript (or the deployment prefers it) and the candidate
/// consented to recording, speech recognition on the recording. Stored only with the candidate's consent to transcription.
/// </summary>
[ImplicitStreamSubscription(PostSessionConsumers.StreamNamespace)]
public sealed partial class TranscriptGrain(IPostSessionRepository repository, RecordingTranscription recordings, TimeProvider clock, ILogger<TranscriptGrain> logger)
    : PostSessionConsumerGrain(PostSessionConsumers.Transcript), ITranscriptGrain
{
    protected override async Task HandleAsync(SessionCompleted completed)
    {
        var session = Session;
        var snapshot = await session.Get(completed.TenantId);
        if (snapshot.ErasedAt is null && completed.Consent.Transcription)
        {
            var turns = Assemble(await session.GetTurns(completed.TenantId), completed.Transcript.TurnCount);
            var transcript = await ChooseAsync(completed, turns);
            if (await repository.SaveTranscriptAsync(completed, transcript))
            {
                await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId, AuditActions.TranscriptStored, "transcript",
                    $"{transcript.Turns.Count} turns from {transcript.Source}", clock.GetUtcNow()));
                LogStored(SessionId, transcript.Turns.Count, transcript.Source);
            }
        }
    }

    /// <summary>The provider's turns, unless the recording's transcript is wanted and there is one to make.</summary>
    private async Task<TranscriptView> ChooseAsync(SessionCompleted completed, IReadOnlyList<TranscriptTurn> fromProvider)
    {
        var options = recordings.Options;
        // The provider always knows what the agent said; whether it transcribed the candidate is what decides.
        var providerGaveOne = fromProvider.Any(t => t.Speaker == ParticipantRole.Candidate && !string.IsNullOrWhiteSpace(t.Text));
        var transcriber = completed.Consent.Recording ? recordings.Transcriber : null;
        if (transcriber is null || (providerGaveOne && options.Prefer == TranscriptionOptions.PreferProviderThenRecording))
            return new TranscriptView(SessionId, fromProvider, clock.GetUtcNow(), TranscriptSources.Provider);

        // Recognition runs as the silo's background job: this turn waits a bounded time, then lets the event come back.
        var job = recordings.Job(transcriber, completed.TenantId, SessionId);
        try
        {
            await job.WaitAsync(options.TurnWait);
        }
        catch (TimeoutException)
        {
            throw new TranscriptionPendingException(SessionId, options.TurnWait);
        }
        finally
        {
            if (job.IsCompleted) recordings.Collect(SessionId); // taken, or failed: a re-delivery starts afresh
        }
        if (await job is { } fromRecording)
            return new TranscriptView(SessionId, fromRecording, clock.GetUtcNow(), transcriber.Source);
        // The last chunk may still be on its way to the store: not acknowledging brings the event back (PostSession:RedeliveryPeriod).
        if (clock.GetUtcNow() - completed.EndedAt < options.RecordingWait) throw new RecordingNotReadyException(SessionId);
        LogNoRecording(SessionId, options.RecordingWait);
        return new TranscriptView(SessionId, fromProvider, clock.GetUtcNow(), TranscriptSources.Provider);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Transcript of {SessionId} stored: {Turns} turns from {Source}")]
    private partial void LogStored(string sessionId, int turns, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No readable recording of {SessionId} within {Wait} of its end; the provider's transcript is stored")]
    private partial void LogNoRecording(string sessionId, TimeSpan wait);
}
