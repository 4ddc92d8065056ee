using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Providers;

/// <summary>
/// Keeps one session connected to a voice provider: reconnects with exponential backoff and jitter, replaying the conversation
/// so far; after <see cref="ProviderFailoverOptions.FailuresBeforeFailover"/> consecutive failures switches to the session's
/// secondary provider (and back, if that one fails as often). A stall (no answer after the candidate stopped speaking) and
/// a burst of error events count as failures too. Runs on the thread pool; every member is safe to call from any thread.
/// </summary>
public sealed class ProviderLink : IVoiceEvents, IAsyncDisposable
{
    private readonly VoiceProviderRegistry _registry;
    private readonly ProviderFailoverOptions _options;
    private readonly TimeProvider _clock;
    private readonly string _sessionId;
    private readonly ProviderSettings _settings;
    private readonly Func<IReadOnlyList<Turn>> _conversation;
    private readonly IVoiceEvents _downstream;
    private readonly Random _random;
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _stallTimer;
    private long _awaitingAnswerSince; // timestamp of the candidate's pause, 0 once the answer started: read per provider frame, written per turn
    private readonly Queue<long> _recentErrors = new();
    private volatile IVoiceConnection? _current;
    private volatile string _active;
    private Task _loop = Task.CompletedTask;

    public ProviderLink(VoiceProviderRegistry registry, ProviderFailoverOptions options, TimeProvider clock, string sessionId,
        ProviderSettings settings, string? resumeWith, Func<IReadOnlyList<Turn>> conversation, IVoiceEvents downstream)
    {
        _registry = registry;
        _options = options;
        _clock = clock;
        _sessionId = sessionId;
        _settings = settings;
        _conversation = conversation;
        _downstream = downstream;
        _random = new Random(SimulatedVoiceProvider.StableHash(sessionId)); // backoff jitter, reproducible per session
        _active = resumeWith is not null && registry.Contains(resumeWith) ? resumeWith : settings.Name;
        _stallTimer = clock.CreateTimer(static s => ((ProviderLink)s!).OnStalled(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public string ActiveProvider => _active;

    public bool IsConnected => _current is not null;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Hands a candidate frame to the live connection; false (and counted) while there is none.</summary>
    public bool TrySendAudio(AudioFrame frame)
    {
        var connection = _current;
        if (connection is not null && connection.TrySendAudio(frame)) return true;
        MediaMetrics.Dropped("provider_unavailable");
        return false;
    }

    /// <summary>
    /// The candidate stopped speaking: an answer should start within the stall timeout. Once per turn: the timer is armed
    /// here and never touched by provider frames, which only clear the timestamp it checks.
    /// </summary>
    public void ExpectResponse()
    {
        Volatile.Write(ref _awaitingAnswerSince, _clock.GetTimestamp());
        _stallTimer.Change(_options.StallTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The candidate barged in: the live connection stops the answer in progress (a no-op while disconnected).</summary>
    public void Interrupt() => _current?.Interrupt();

    private async Task RunAsync()
    {
        var failures = 0;
        var attempt = 0;
        var backoff = _options.InitialBackoff;
        while (!_stop.IsCancellationRequested)
        {
            attempt++;
            var provider = _active;
            IVoiceConnection? connection = null;
            string reason;
            try
            {
                using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _clock);
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timeout.Token);
                var conversation = _conversation();
                connection = await _registry.Get(provider).ConnectAsync(new ProviderConnectRequest(_sessionId, _settings, conversation, attempt), this, connect.Token);
                if (_stop.IsCancellationRequested) break;
                lock (_recentErrors) _recentErrors.Clear();
                _current = connection;
                backoff = _options.InitialBackoff;
                var connectedAt = _clock.GetTimestamp();
                _downstream.OnProviderConnected(provider, attempt, conversation.Count);
                try
                {
                    await connection.Completion;
                }
                finally
                {
                    // A connection that lived long was healthy; one that keeps dropping early is failing, connect or not.
                    if (_clock.GetElapsedTime(connectedAt) >= _options.HealthyConnectionTime) failures = 0;
                }
                if (_stop.IsCancellationRequested) break;
                reason = "connection closed";
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException)
            {
                reason = $"connect timed out after {_options.ConnectTimeout.TotalSeconds:0.#} s";
            }
            catch (ProviderException e)
            {
                reason = e.Message;
            }
            catch (Exception e)
            {
                reason = $"{e.GetType().Name}: {e.Message}";
            }
            finally
            {
                _current = null;
                Volatile.Write(ref _awaitingAnswerSince, 0);
                _stallTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                if (connection is not null) await connection.DisposeAsync();
            }

            failures++;
            MediaMetrics.ProviderError(provider);
            _downstream.OnProviderFailed(provider, reason, failures);
            if (failures >= _options.FailuresBeforeFailover && Alternative(provider) is { } next)
            {
                _downstream.OnProviderFailover(provider, next, $"{failures} consecutive failures, last: {reason}");
                _active = next;
                failures = 0;
                attempt = 0;
                backoff = _options.InitialBackoff;
                continue; // a healthy secondary should not wait for the primary's backoff
            }
            try
            {
                var jitter = TimeSpan.FromTicks((long)(backoff.Ticks * 0.2 * _random.NextDouble()));
                await Task.Delay(backoff + jitter, _clock, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        }
    }

    private string? Alternative(string failing)
    {
        var secondary = _settings.Secondary;
        if (string.IsNullOrWhiteSpace(secondary) || !_registry.Contains(secondary)) return null;
        return string.Equals(failing, secondary, StringComparison.OrdinalIgnoreCase) ? _settings.Name : secondary;
    }

    private void OnStalled()
    {
        var since = Volatile.Read(ref _awaitingAnswerSince);
        if (since == 0) return; // the answer started in time
        var waited = _clock.GetElapsedTime(since);
        if (waited < _options.StallTimeout)
        {
            _stallTimer.Change(_options.StallTimeout - waited, Timeout.InfiniteTimeSpan); // a later pause re-armed the wait
            return;
        }
        _current?.Abort($"stalled: no answer within {_options.StallTimeout.TotalSeconds:0.#} s of the candidate's pause");
    }

    void IVoiceEvents.OnProviderAudio(AudioFrame frame)
    {
        // Only the first frame of an answer writes; clearing just the pause it saw keeps a newer one that raced in.
        var since = Volatile.Read(ref _awaitingAnswerSince);
        if (since != 0) Interlocked.CompareExchange(ref _awaitingAnswerSince, 0, since);
        _downstream.OnProviderAudio(frame);
    }

    void IVoiceEvents.OnTranscript(Turn turn) => _downstream.OnTranscript(turn);

    void IVoiceEvents.OnCandidateSpeechStarted(string provider) => _downstream.OnCandidateSpeechStarted(provider);

    void IVoiceEvents.OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks) => _downstream.OnCandidateAudioSent(sentAtUtcTicks, handedOffUtcTicks);

    // The lifecycle is the link's to report; connections do not raise these, and one that did would be passed on unchanged.
    void IVoiceEvents.OnProviderConnected(string provider, int attempt, int replayedTurns) => _downstream.OnProviderConnected(provider, attempt, replayedTurns);

    void IVoiceEvents.OnProviderFailed(string provider, string reason, int consecutiveFailures) => _downstream.OnProviderFailed(provider, reason, consecutiveFailures);

    void IVoiceEvents.OnProviderFailover(string from, string to, string reason) => _downstream.OnProviderFailover(from, to, reason);

    void IVoiceEvents.OnProviderError(string provider, string code, string message)
    {
        MediaMetrics.ProviderError(provider);
        _downstream.OnProviderError(provider, code, message);
        var now = _clock.GetTimestamp();
        int count;
        lock (_recentErrors)
        {
            _recentErrors.Enqueue(now);
            while (_recentErrors.Count > 0 && _clock.GetElapsedTime(_recentErrors.Peek(), now) > _options.ErrorWindow) _recentErrors.Dequeue();
            count = _recentErrors.Count;
        }
        if (count >= _options.ErrorThreshold) _current?.Abort($"{count} error events within {_options.ErrorWindow.TotalSeconds:0} s (last: {code})");
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _stallTimer.Dispose();
        if (_current is { } connection) await connection.DisposeAsync();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // a provider that ignores cancellation must not hold a grain's deactivation hostage
        }
    }
}
