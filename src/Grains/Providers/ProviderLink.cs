using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Providers;

/// <summary>
/// Keeps one session connected to a voice provider: reconnects with exponential backoff and jitter, replaying the conversation
/// so far; after <see cref="ProviderFailoverOptions.FailuresBeforeFailover"/> consecutive failures switches to the session's
/// secondary provider (and back, if that one fails as often). A stall (no answer after the candidate stopped speaking) and
/// a burst of error events count as failures too. A provider session nearing its budget is rotated to a fresh one at a
/// turn boundary, and one the provider expires is reopened the same way; neither is a failure. Runs on the thread pool; every member is safe to call from any thread.
/// </summary>
public sealed class ProviderLink : IVoiceEvents, IAsyncDisposable
{
    private readonly VoiceProviderRegistry _registry;
    private readonly ProviderFailoverOptions _options;
    private readonly TimeProvider _clock;
    private readonly string _sessionId;
    private readonly ProviderSettings _settings;
    private readonly Func<Conversation> _conversation;
    private readonly IVoiceEvents _downstream;
    private readonly Random _random;
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _stallTimer;
    private long _awaitingAnswerSince; // timestamp of the candidate's pause, 0 once the answer started: read per provider frame, written per turn
    private readonly Queue<long> _recentErrors = new();
    private int _candidateSpeaking; // between the provider hearing speech start and the relay hearing its end: no rotation then
    private int _answerOpen; // from an answer's first frame to its transcript (or a barge-in cutting it)
    private long _lastAgentAudio; // timestamp of the last provider frame, 0 before the first
    private volatile IVoiceConnection? _current;
    private volatile string _active;
    private Task _loop = Task.CompletedTask;
    private int _owedAfterOutage; // 1 until the first connection of a session resumed after its silo was lost

    /// <param name="afterOutage">
    /// The session resumed after its silo was lost: the candidate may have spoken while no silo heard it, so the first connection
    /// answers at once (see <see cref="ProviderConnectRequest.AnswerOwed"/>) instead of waiting for an utterance that already ended.
    /// </param>
    public ProviderLink(VoiceProviderRegistry registry, ProviderFailoverOptions options, TimeProvider clock, string sessionId,
        ProviderSettings settings, string? resumeWith, Func<Conversation> conversation, IVoiceEvents downstream, bool afterOutage = false)
    {
        _owedAfterOutage = afterOutage ? 1 : 0;
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

    /// <summary>Between turns (see <see cref="AtBoundary"/>): nothing is said or awaited that a move to another connection would cut.</summary>
    public bool AtTurnBoundary => AtBoundary(_registry.Get(_active).Session);

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
        Volatile.Write(ref _candidateSpeaking, 0);
        Volatile.Write(ref _awaitingAnswerSince, _clock.GetTimestamp());
        _stallTimer.Change(_options.StallTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The candidate barged in: the live connection stops the answer in progress (a no-op while disconnected).</summary>
    public void Interrupt()
    {
        Volatile.Write(ref _answerOpen, 0); // the answer ends here: no transcript will close it
        _current?.Interrupt();
    }

    private async Task RunAsync()
    {
        var failures = 0;
        var attempt = 0;
        var backoff = _options.InitialBackoff;
        var expired = false; // the last session ended at the provider's cap: the next connect is a rotation, not a recovery
        Opened? handover = null; // a planned rotation already switched to this one
        while (!_stop.IsCancellationRequested)
        {
            var provider = _active;
            IVoiceConnection? connection = null;
            var rotating = expired;
            expired = false;
            string reason;
            try
            {
                Opened opened;
                if (handover is { } switched)
                {
                    (opened, handover) = (switched, null);
                }
                else
                {
                    opened = await OpenAsync(provider, ++attempt, continuation: rotating, planned: false);
                    if (_stop.IsCancellationRequested)
                    {
                        await opened.Connection.DisposeAsync();
                        break;
                    }
                    _current = opened.Connection;
                    if (rotating) Rotated(provider, ProviderRotation.Expired, opened.Replay);
                    else _downstream.OnProviderConnected(provider, attempt, opened.Replay.Total);
                }
                connection = opened.Connection;
                lock (_recentErrors) _recentErrors.Clear();
                backoff = _options.InitialBackoff;
                var connectedAt = _clock.GetTimestamp();
                try
                {
                    handover = await ServeAsync(provider, connection, connectedAt, () => ++attempt);
                }
                finally
                {
                    // A connection that lived long was healthy; one that keeps dropping early is failing, connect or not.
                    if (_clock.GetElapsedTime(connectedAt) >= _options.HealthyConnectionTime) failures = 0;
                }
                if (handover is not null)
                {
                    failures = 0; // it served until its budget ran out: as healthy as a connection gets
                    continue;
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
            catch (ProviderException e) when (e.SessionExpired && connection is not null)
            {
                expired = true;
                reason = e.Message;
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
                // After a planned rotation the next session is already current: only the old one goes.
                Interlocked.CompareExchange(ref _current, null, connection);
                if (handover is null)
                {
                    Volatile.Write(ref _awaitingAnswerSince, 0);
                    _stallTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }
                if (connection is not null) await connection.DisposeAsync();
            }
            if (expired) continue; // the cap, not a fault: no failure counted, no backoff, same provider

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

    /// <summary>A session connected and replayed, and how many turns the conversation had when its replay was taken.</summary>
    private sealed record Opened(IVoiceConnection Connection, Replay Replay, int TurnsSeen);

    /// <summary>
    /// Connects and replays the conversation within the provider's context budget; a rotation adds the continuation note.
    /// <paramref name="planned"/>: a rotation the link chose the moment of (no answer in flight, so none is owed); a reconnect
    /// after the provider expired the session may have cut one, like any lost connection.
    /// </summary>
    private async Task<Opened> OpenAsync(string provider, int attempt, bool continuation, bool planned)
    {
        var voice = _registry.Get(provider);
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _clock);
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timeout.Token);
        var conversation = _conversation();
        var replay = ProviderRotation.Plan(conversation, voice.Session, continuation);
        // A recovery or an expiry (not a planned rotation, which never switches with an answer in flight) owes an answer when the
        // candidate's last turn went unanswered (the agent's answer was cut with its connection or its silo: an answer is
        // checkpointed only once spoken in full), when the candidate finished speaking while no connection was up, or after the
        // session's silo was lost.
        var owed = !planned && (Volatile.Read(ref _owedAfterOutage) == 1 || Volatile.Read(ref _awaitingAnswerSince) != 0 ||
            (conversation.Turns.Count > 0 && conversation.Turns[^1].Speaker == ParticipantRole.Candidate));
        var request = new ProviderConnectRequest(_sessionId, _settings, replay.Verbatim, attempt, replay.Context, replay.Condensed, owed);
        var connection = await voice.ConnectAsync(request, this, connect.Token);
        Volatile.Write(ref _owedAfterOutage, 0);
        return new Opened(connection, replay, conversation.Count);
    }

    /// <summary>
    /// Serves one session until it ends (null; a lost one throws its failure) or, with a session budget, until a planned
    /// rotation has switched to a fresh session (returned). The rotation waits for a turn boundary from the budget's safety
    /// margin on, opens and replays the new session while the old one still serves, and switches only if the moment is still
    /// a boundary and the replay still has every turn. From the last safe moment on it no longer waits for a pause, only for
    /// the agent's answer in flight (awaited or being spoken) to end: the candidate may be mid-utterance (the new session
    /// hears the rest of it), but an answer is never cut, nor its start lost. A session the provider expires while the next
    /// one is being prepared is switched from the same way.
    /// </summary>
    private async Task<Opened?> ServeAsync(string provider, IVoiceConnection connection, long connectedAt, Func<int> nextAttempt)
    {
        var session = _registry.Get(provider).Session;
        if (session.Budget is not { } budget)
        {
            await connection.Completion;
            return null;
        }
        var (lookFrom, deadline) = session.Window(budget);
        await WaitAsync(connection.Completion, lookFrom - _clock.GetElapsedTime(connectedAt));
        while (!connection.Completion.IsCompleted && !_stop.IsCancellationRequested)
        {
            var forced = _clock.GetElapsedTime(connectedAt) >= deadline;
            if (forced ? AnswerInFlight(session) : !AtBoundary(session))
            {
                await WaitAsync(connection.Completion, BoundaryPoll);
                continue;
            }
            Opened next;
            try
            {
                next = await OpenAsync(provider, nextAttempt(), continuation: true, planned: true);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                MediaMetrics.ProviderError(provider); // the old session still serves: try again at a later boundary
                await WaitAsync(connection.Completion, _options.InitialBackoff);
                continue;
            }
            var expired = connection.Completion.IsFaulted && IsExpiry(connection.Completion.Exception);
            var stale = (forced ? AnswerInFlight(session) : !AtBoundary(session)) || _conversation().Count != next.TurnsSeen;
            if (_stop.IsCancellationRequested || (connection.Completion.IsCompleted && !expired) || (stale && !expired))
            {
                // Stopping, the old one failed (today's rules apply), or the candidate spoke while the new session was
                // being prepared (its replay is behind, and an utterance must not be split between two sessions), or, past
                // the last safe moment, an answer began meanwhile (it is heard out on the old session first).
                await next.Connection.DisposeAsync();
                continue;
            }
            _current = next.Connection; // one write: candidate audio goes to the old session up to here, to the new one after
            Rotated(provider, expired ? ProviderRotation.Expired : ProviderRotation.Planned, next.Replay);
            return next;
        }
        await connection.Completion;
        return null;
    }

    /// <summary>How often a rotation that is due looks for a turn boundary: a few per candidate pause.</summary>
    private static readonly TimeSpan BoundaryPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// A turn boundary: the candidate is not speaking, no answer is awaited, and the agent's audio has been quiet for
    /// <see cref="ProviderSessionOptions.BoundaryQuiet"/> after its answer ended (its transcript came, or, for an answer that
    /// never gets one, its audio has been quiet five times as long).
    /// </summary>
    private bool AtBoundary(ProviderSessionOptions session)
    {
        if (Volatile.Read(ref _candidateSpeaking) != 0 || Volatile.Read(ref _awaitingAnswerSince) != 0) return false;
        var lastAudio = Volatile.Read(ref _lastAgentAudio);
        if (lastAudio == 0) return true;
        var quiet = _clock.GetElapsedTime(lastAudio);
        return quiet >= session.BoundaryQuiet && (Volatile.Read(ref _answerOpen) == 0 || quiet >= session.BoundaryQuiet * 5);
    }

    /// <summary>
    /// The agent owes or is speaking an answer: the candidate's pause is awaiting one, or its audio is still coming (an
    /// answer that never gets a transcript counts as over after five times <see cref="ProviderSessionOptions.BoundaryQuiet"/>).
    /// A switch now would lose it: the old session's answer dies with it, and the new one was not asked for it.
    /// </summary>
    private bool AnswerInFlight(ProviderSessionOptions session)
    {
        if (Volatile.Read(ref _awaitingAnswerSince) != 0) return true;
        var lastAudio = Volatile.Read(ref _lastAgentAudio);
        return lastAudio != 0 && Volatile.Read(ref _answerOpen) != 0 && _clock.GetElapsedTime(lastAudio) < session.BoundaryQuiet * 5;
    }

    private static bool IsExpiry(AggregateException? e) => e?.InnerException is ProviderException { SessionExpired: true };

    private void Rotated(string provider, string reason, Replay replay)
    {
        lock (_recentErrors) _recentErrors.Clear();
        ProviderRotation.Count(provider, reason);
        _downstream.OnProviderRotated(provider, reason, replay.Verbatim.Count, replay.Condensed);
    }

    /// <summary>Until <paramref name="delay"/> has passed, the session ended or the link stopped; the timer goes with it.</summary>
    private async Task WaitAsync(Task completion, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero || completion.IsCompleted) return;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        await Task.WhenAny(completion, Task.Delay(delay, _clock, cancel.Token));
        cancel.Cancel();
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
        Volatile.Write(ref _answerOpen, 1);
        Volatile.Write(ref _lastAgentAudio, _clock.GetTimestamp());
        _downstream.OnProviderAudio(frame);
    }

    void IVoiceEvents.OnTranscript(Turn turn)
    {
        if (turn.Speaker == ParticipantRole.Agent) Volatile.Write(ref _answerOpen, 0);
        _downstream.OnTranscript(turn);
    }

    void IVoiceEvents.OnCandidateSpeechStarted(string provider)
    {
        Volatile.Write(ref _candidateSpeaking, 1);
        _downstream.OnCandidateSpeechStarted(provider);
    }

    void IVoiceEvents.OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks) => _downstream.OnCandidateAudioSent(sentAtUtcTicks, handedOffUtcTicks);

    // The lifecycle is the link's to report; connections do not raise these, and one that did would be passed on unchanged.
    void IVoiceEvents.OnProviderConnected(string provider, int attempt, int replayedTurns) => _downstream.OnProviderConnected(provider, attempt, replayedTurns);

    void IVoiceEvents.OnProviderFailed(string provider, string reason, int consecutiveFailures) => _downstream.OnProviderFailed(provider, reason, consecutiveFailures);

    void IVoiceEvents.OnProviderFailover(string from, string to, string reason) => _downstream.OnProviderFailover(from, to, reason);

    void IVoiceEvents.OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns) =>
        _downstream.OnProviderRotated(provider, reason, verbatimTurns, condensedTurns);

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
