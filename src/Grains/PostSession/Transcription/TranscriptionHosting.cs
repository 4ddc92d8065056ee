using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Recording;

namespace VoiceActors.PostSession.Transcription;

/// <summary>
/// The deployment's choice of recognizer, made once: <c>auto</c> takes PocketSphinx when its program is on the PATH and
/// says plainly at first use when it is not. No recognizer, or no recording store, means transcripts come from the provider only.
/// </summary>
public sealed partial class RecordingTranscription(IServiceProvider services, IOptions<TranscriptionOptions> options, ILogger<RecordingTranscription> logger)
{
    private readonly Lazy<RecordingTranscriber?> _transcriber = new(() => Create(services, options.Value, logger));

    public TranscriptionOptions Options => options.Value;

    /// <summary>Null when this deployment does not transcribe recordings.</summary>
    public RecordingTranscriber? Transcriber => _transcriber.Value;

    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<TranscriptTurn>?>>> _jobs = new(StringComparer.Ordinal);

    /// <summary>
    /// The session's recording transcribed on the thread pool, outside any grain's turn: started by the first call, the same
    /// job for later ones until <see cref="Collect"/> takes it. The caller awaits it only for a bounded time
    /// (<see cref="TranscriptionOptions.TurnWait"/>); a job finished but never collected is forgotten after
    /// <see cref="TranscriptionOptions.UncollectedJobLifetime"/>.
    /// </summary>
    public Task<IReadOnlyList<TranscriptTurn>?> Job(RecordingTranscriber transcriber, string tenantId, string sessionId)
    {
        var job = _jobs.GetOrAdd(sessionId, id => new Lazy<Task<IReadOnlyList<TranscriptTurn>?>>(() =>
        {
            var task = Task.Run(() => transcriber.TranscribeAsync(tenantId, sessionId)); // Task.Run: off the grain's scheduler
            _ = ForgetLaterAsync(id, task);
            return task;
        }));
        return job.Value;
    }

    /// <summary>The job's result was taken (or its failure will be retried at re-delivery): the next call starts afresh.</summary>
    public void Collect(string sessionId) => _jobs.TryRemove(sessionId, out _);

    private async Task ForgetLaterAsync(string sessionId, Task job)
    {
        try
        {
            await job;
        }
        catch (Exception)
        {
            // the transcript grain sees the failure when it collects
        }
        await Task.Delay(options.Value.UncollectedJobLifetime);
        if (_jobs.TryGetValue(sessionId, out var current) && current.IsValueCreated && current.Value == job) _jobs.TryRemove(sessionId, out _);
    }

    private static RecordingTranscriber? Create(IServiceProvider services, TranscriptionOptions o, ILogger logger)
    {
        var reader = services.GetService<IRecordingReader>();
        ISpeechRecognizer? recognizer = o.Recognizer.ToLowerInvariant() switch
        {
            "pocketsphinx" => new PocketSphinxRecognizer(o.PocketSphinx),
            "openai" => new OpenAiTranscriptionRecognizer(o.OpenAI),
            "auto" when OnPath(o.PocketSphinx.Executable) => new PocketSphinxRecognizer(o.PocketSphinx),
            _ => null,
        };
        if (recognizer is null || reader is null)
        {
            LogNone(logger, o.Recognizer, reader is null ? "no recording store is configured" : $"'{o.PocketSphinx.Executable}' is not installed (Debian: pocketsphinx pocketsphinx-en-us)");
            return null;
        }
        LogChosen(logger, recognizer.Name);
        return new RecordingTranscriber(reader, recognizer, o.MaxConcurrent);
    }

    private static bool OnPath(string program) =>
        Path.IsPathRooted(program) ? File.Exists(program)
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Any(dir => File.Exists(Path.Combine(dir, program)));

    [LoggerMessage(Level = LogLevel.Information, Message = "Transcripts from recordings: {Recognizer}")]
    private static partial void LogChosen(ILogger logger, string recognizer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transcripts from recordings: none (recognizer '{Recognizer}': {Reason}); only the provider's transcript is stored")]
    private static partial void LogNone(ILogger logger, string recognizer, string reason);
}

/// <summary>The transcription job has not finished within the turn's wait: the transcript waits for re-delivery.</summary>
public sealed class TranscriptionPendingException(string sessionId, TimeSpan waited)
    : Exception($"The recording of {sessionId} is still being transcribed after {waited}; the transcript will be stored at a re-delivery.");

/// <summary>The recording is not readable yet (its last chunk still being written): the transcript waits for re-delivery.</summary>
public sealed class RecordingNotReadyException(string sessionId)
    : Exception($"The recording of {sessionId} is not readable yet; the transcript will be made at re-delivery.");
