using VoiceActors.LiveKit;
using VoiceActors.Recording;

namespace VoiceActors.PostSession.Transcription;

/// <summary>
/// A transcript made from the recording: each channel (candidate, agent) recognized on its own, so the speaker is known
/// without diarization, then the utterances of both put in the order they were spoken.
/// </summary>
public sealed class RecordingTranscriber(IRecordingReader recordings, ISpeechRecognizer recognizer, int maxConcurrent)
{
    private static readonly ParticipantRole[] Channels = [ParticipantRole.Candidate, ParticipantRole.Agent];
    private readonly SemaphoreSlim _slots = new(maxConcurrent, maxConcurrent);

    public string Source => $"recording:{recognizer.Name}";

    /// <summary>Null when there is no readable recording (yet); a recognizer failure throws, so the work is retried.</summary>
    public async Task<IReadOnlyList<TranscriptTurn>?> TranscribeAsync(string tenantId, string sessionId, CancellationToken ct = default)
    {
        var turns = new List<(ParticipantRole Speaker, RecognizedSpeech Speech, DateTimeOffset Start)>();
        foreach (var role in Channels)
        {
            await using var channel = await recordings.OpenChannelAsync(tenantId, sessionId, role, ct);
            if (channel is null) return null;
            await _slots.WaitAsync(ct);
            try
            {
                foreach (var speech in await recognizer.RecognizeAsync(channel.Pcm, ct)) turns.Add((role, speech, channel.StartedAt));
            }
            finally
            {
                _slots.Release();
            }
        }
        return turns.OrderBy(t => t.Start + t.Speech.Start).ThenBy(t => t.Speaker)
            .Select((t, i) => new TranscriptTurn(i, t.Speaker, t.Speech.Text, t.Start + t.Speech.Start, t.Start + t.Speech.End))
            .ToArray();
    }
}
