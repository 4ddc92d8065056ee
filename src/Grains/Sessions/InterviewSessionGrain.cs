using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Providers;
using VoiceActors.Placement;
using VoiceActors.Regions;
using VoiceActors.Telemetry;

namespace VoiceActors.Sessions;

/// <summary>One interview: owns its lifecycle, its room and its provider stream; its state lives in Redis so a survivor can resume it.</summary>
[RegionalLeastLoadedPlacement]
public sealed partial class InterviewSessionGrain(
    [PersistentState(StorageNames.SessionState, StorageNames.Sessions)] IPersistentState<InterviewSessionState> session,
    IOptions<InterviewSessionOptions> options,
    TimeProvider clock,
    ILocalSiloDetails silo,
    SiloSessionLoad load,
    AudioRelayFactory relays,
    RegionView regions,
    IOptions<RegionHealthOptions> regionHealth,
    ILogger<InterviewSessionGrain> logger,
    LiveKitDirectory livekit) : Grain, IInterviewSessionGrain, ISessionMediaEvents, IRemindable, IGrainMigrationParticipant, IIncomingGrainCallFilter
{
    /// <summary>The AI agent's identity in the room: the provider speaks as it, whichever provider is active.</summary>
    internal const string AgentIdentity = "voice-agent";

    private const string SinkMigrationKey = "va.sink";
    private bool _relocating;
    private bool _migratedIn;
    internal const string WatchdogReminder = "session-watchdog";
    internal const int MaxTimelineEvents = 2000; // a 90-minute interview produces a few hundred; the cap only stops a runaway

    private IAudioSink? _sink;
    private AudioRelay? _relay;
    private SessionLogScope? _logScope;

    private readonly InterviewSessionOptions _options = options.Value;
    private readonly LiveKitDirectory _livekit = livekit;
    private InterviewSessionState State => session.State;
    private string SessionId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!State.Exists || !State.Status.IsLive()) return;
        TrackLoad();
        // A live session activating here means its previous silo died or handed it over: resume what it owns.
        var previous = State.Silo;
        State.Silo = silo.SiloAddress.ToParsableString();
        State.Activations++;
        if (_migratedIn) State.Migrations++;
        Record(TimelineKinds.Resumed, $"from {previous ?? "unknown"} in state {State.Status}");
        await session.WriteStateAsync(cancellationToken);
        using var scope = BeginScope();
        LogResumed(previous, State.Silo, State.Status);
        // The interview was talking to a provider when its silo died: reconnect now, replaying the checkpointed turns.
        if (State.ActiveProvider is not null && State.Status is SessionStatus.Active or SessionStatus.Reconnecting) EnsureRelay();
        // Re-activated outside its region (placement found no serving silo there): go home once a silo there serves.
        // Not after a migration: a drain or failover chose this silo on purpose, and bouncing back would chase a draining silo.
        if (!_migratedIn && State.Region != load.Region && regions.HasServingSilo(State.Region)) MigrateTo(State.Region, avoid: null);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        load.Remove(SessionId);
        await StopRelayAsync();
    }

    async Task<SessionSnapshot> IInterviewSessionGrain.Create(CreateSession command)
    {
        Validate(command);
        if (State.Exists) throw new SessionAlreadyExistsException(SessionId);

        AdmitOnThisSilo(command.Region);
        var now = clock.GetUtcNow();
        State.TenantId = command.TenantId;
        State.CandidateId = command.CandidateId;
        IdentifyLogScope();
        State.JobId = command.JobId;
        State.CandidateName = command.CandidateName;
        State.Provider = command.Provider;
        State.Consent = command.Consent;
        State.Rubric = command.Rubric;
        State.Region = command.Region;
        State.RoomName = SessionIds.RoomName(SessionId);
        State.CreatedAt = now;
        State.Silo = silo.SiloAddress.ToParsableString();
        State.Activations = 1;
        Record(TimelineKinds.Created, $"region {command.Region}, provider {command.Provider.Name}");
        VoiceMetrics.SessionsStarted.Add(1, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, command.Provider.Name));

        // The reminder goes first: from here on a crash must not lose the session.
        await this.RegisterOrUpdateReminder(WatchdogReminder, _options.WatchdogPeriod, _options.WatchdogPeriod);
        MoveTo(SessionStatus.Provisioning);
        await session.WriteStateAsync();
        if (!await ProvisionRoomAsync()) return Snapshot(); // Failed, with the reason; the caller is never left hanging

        MoveTo(SessionStatus.WaitingForParticipants);
        await session.WriteStateAsync();
        LogCreated(State.Region, State.RoomName);
        return Snapshot() with { CandidateToken = CandidateToken() };
    }

    Task<SessionSnapshot> IInterviewSessionGrain.Get(string tenantId)
    {
        EnsureTenant(tenantId);
        return Task.FromResult(Snapshot());
    }

    async Task<SessionSnapshot> IInterviewSessionGrain.Complete(string tenantId, string reason)
    {
        EnsureTenant(tenantId);
        await EndAsync(SessionStatus.Completed, string.IsNullOrWhiteSpace(reason) ? "completed by caller" : reason);
        return Snapshot();
    }

    async Task IInterviewSessionGrain.ParticipantJoined(string identity, ParticipantRole role)
    {
        EnsureExists();
        if (State.Status.IsTerminal()) return; // late webhook after the end: nothing to do
        var now = clock.GetUtcNow();
        State.Participants.RemoveAll(p => p.Identity == identity);
        State.Participants.Add(new ParticipantPresence(identity, role, now));
        State.EmptySince = null;
        Record(TimelineKinds.ParticipantJoined, $"{role} {identity}");
        TrackLoad();

        if (State.Status is SessionStatus.WaitingForParticipants or SessionStatus.Reconnecting && HasCandidateAndAgent())
        {
            MoveTo(SessionStatus.Active);
            State.StartedAt ??= now;
        }
        await session.WriteStateAsync();
    }

    async Task IInterviewSessionGrain.ParticipantLeft(string identity)
    {
        EnsureExists();
        if (State.Status.IsTerminal()) return;
        var removed = State.Participants.RemoveAll(p => p.Identity == identity);
        if (removed == 0) return;
        Record(TimelineKinds.ParticipantLeft, identity);
        TrackLoad();
        if (State.Participants.Count == 0) State.EmptySince = clock.GetUtcNow();
        if (State.Status == SessionStatus.Active && !HasCandidateAndAgent()) MoveTo(SessionStatus.Reconnecting);
        await session.WriteStateAsync();
    }

    async Task IInterviewSessionGrain.RoomFinished()
    {
        EnsureExists();
        if (State.Status.IsTerminal()) return;
        // A room that closes after the conversation started is a finished interview; one that never started has expired.
        var outcome = State.StartedAt is null ? SessionStatus.Expired : SessionStatus.Completed;
        await EndAsync(outcome, "room finished");
    }

    async Task IInterviewSessionGrain.RecordTurn(Turn turn)
    {
        EnsureExists();
        if (State.Status.IsTerminal()) throw new InvalidSessionTransitionException(SessionId, State.Status, State.Status);
        if (string.IsNullOrWhiteSpace(turn.Text)) throw new SessionValidationException(SessionId, "text", "a turn needs text");
        if (turn.EndedAt < turn.StartedAt) throw new SessionValidationException(SessionId, "endedAt", "a turn cannot end before it starts");
        State.Turns.Add(turn);
        await session.WriteStateAsync(); // checkpoint per turn: a crash loses at most the turn in progress
    }

    Task<IReadOnlyList<Turn>> IInterviewSessionGrain.GetTurns(string tenantId)
    {
        EnsureTenant(tenantId);
        return Task.FromResult<IReadOnlyList<Turn>>(State.Turns.ToArray());
    }

    Task<IReadOnlyList<TimelineEvent>> IInterviewSessionGrain.GetTimeline(string tenantId)
    {
        EnsureTenant(tenantId);
        return Task.FromResult<IReadOnlyList<TimelineEvent>>(State.Timeline.ToArray());
    }

    Task IInterviewSessionGrain.PushCandidateAudio(AudioFrame frame)
    {
        var relay = _relay ?? EnsureRelay();
        if (frame.Pcm is null || frame.Pcm.Length == 0 || frame.Pcm.Length > AudioFormat.MaxFrameBytes || (frame.Pcm.Length & 1) != 0)
        {
            MediaMetrics.Dropped("invalid");
            throw new SessionValidationException(SessionId, "pcm", $"a frame is PCM16 mono, an even number of bytes up to {AudioFormat.MaxFrameBytes} (20 ms at 24 kHz is {AudioFormat.FrameBytes})");
        }
        relay.Push(frame); // rate-limited and provider-unavailable frames are counted inside; the caller need not slow down
        return Task.CompletedTask;
    }

    Task IInterviewSessionGrain.AttachMedia(IAudioSink sink)
    {
        EnsureRelay().Attach(sink);
        _sink = sink;
        return Task.CompletedTask;
    }

    Task IInterviewSessionGrain.DetachMedia(IAudioSink sink)
    {
        if (!Equals(_sink, sink)) return Task.CompletedTask; // an old socket leaving after its replacement attached
        _sink = null;
        _relay?.Attach(null);
        return Task.CompletedTask;
    }

    async Task ISessionMediaEvents.OnProviderTurn(Turn turn)
    {
        if (!State.Exists || State.Status.IsTerminal() || string.IsNullOrWhiteSpace(turn.Text)) return;
        State.Turns.Add(turn);
        await session.WriteStateAsync(); // checkpoint per turn, as RecordTurn: a crash loses at most the turn in progress
        _ = _sink?.OnTranscript(turn);
    }

    async Task ISessionMediaEvents.OnProviderEvent(ProviderEvent e)
    {
        if (!State.Exists || State.Status.IsTerminal()) return;
        Record(e.Kind, $"{e.Provider}: {e.Detail}");
        switch (e.Kind)
        {
            case TimelineKinds.ProviderConnected:
                State.ActiveProvider = e.Provider;
                if (!State.Participants.Exists(p => p.Identity == AgentIdentity))
                {
                    await ((IInterviewSessionGrain)this).ParticipantJoined(AgentIdentity, ParticipantRole.Agent); // writes state
                    return;
                }
                break;
            case TimelineKinds.ProviderFailed when State.Participants.Exists(p => p.Identity == AgentIdentity):
                await ((IInterviewSessionGrain)this).ParticipantLeft(AgentIdentity); // the agent is gone until the provider is back
                return;
            case TimelineKinds.ProviderFailover:
                State.ActiveProvider = e.Provider;
                State.ProviderFailovers++;
                break;
        }
        await session.WriteStateAsync();
    }

    /// <summary>The session's audio relay, started on first use: a media socket attaching, a first frame, or a resume.</summary>
    private AudioRelay EnsureRelay()
    {
        if (_relay is not null) return _relay;
        EnsureExists();
        if (State.Status.IsTerminal()) throw new InvalidSessionTransitionException(SessionId, State.Status, SessionStatus.Active);
        _relay = relays.Create(SessionId, State.Provider, State.ActiveProvider, State.Turns, this.AsReference<ISessionMediaEvents>());
        _relay.Attach(_sink);
        _relay.Start();
        return _relay;
    }

    private async Task StopRelayAsync()
    {
        if (_relay is not { } relay) return;
        _relay = null;
        await relay.DisposeAsync();
    }

    Task<SessionStatus> IInterviewSessionGrain.Tick() => EnforceDeadlinesAsync();

    async Task<string?> IInterviewSessionGrain.Relocate(string fromSilo, string reason)
    {
        var here = silo.SiloAddress.ToParsableString();
        if (!State.Exists || !State.Status.IsLive() || here != fromSilo) return here;
        if (!_relocating)
        {
            _relocating = true;
            Record(TimelineKinds.Migrating, reason);
            await session.WriteStateAsync(); // storage holds the same state as the migration package, whichever the new silo sees
        }
        MigrateTo(State.Region, avoid: here);
        return here;
    }

    async Task<ReconnectDirective?> IInterviewSessionGrain.FailOver(RegionFailover failover)
    {
        EnsureExists();
        if (!State.Status.IsLive()) return State.Reconnect;
        if (State.Region == failover.FromRegion)
        {
            // A room in the target region first: if its LiveKit refuses, nothing changes and the next refresh retries.
            if (await ProvisionFailoverRoomAsync(failover.ToRegion) is not { } url) return null;
            State.Region = failover.ToRegion;
            TrackLoad(); // this silo stops counting it among the down region's sessions
            // The token is minted fresh on every read (see Snapshot), never stored.
            State.Reconnect = new ReconnectDirective(failover.ToRegion, url, State.RoomName, CandidateToken: null,
                clock.GetUtcNow(), failover.Reason, failover.FromRegion);
            Record(TimelineKinds.RegionFailover, $"{failover.FromRegion} -> {failover.ToRegion}: {failover.Reason}");
            await session.WriteStateAsync();
            using var scope = BeginScope();
            LogFailedOver(failover.FromRegion, failover.ToRegion);
        }
        if (State.Region != load.Region && regions.HasServingSilo(State.Region)) MigrateTo(State.Region, avoid: silo.SiloAddress.ToParsableString());
        return State.Reconnect;
    }

    void IGrainMigrationParticipant.OnDehydrate(IDehydrationContext context)
    {
        if (_sink is not null) context.TryAddValue(SinkMigrationKey, _sink); // the media socket keeps receiving after the move
    }

    void IGrainMigrationParticipant.OnRehydrate(IRehydrationContext context)
    {
        if (context.TryGetValue<IAudioSink>(SinkMigrationKey, out var sink)) _sink = sink;
        _migratedIn = true;
    }

    /// <summary>Asks the runtime to move this activation once idle; placement reads the region (and the silo to avoid) from the request context.</summary>
    private void MigrateTo(string region, string? avoid)
    {
        RequestContext.Set(RegionContext.RegionKey, region);
        if (avoid is not null) RequestContext.Set(RegionContext.AvoidSiloKey, avoid);
        this.MigrateOnIdle();
    }

    /// <summary>
    /// The exact per-silo admission check (the regional view admission used may be a period old): count this session first,
    /// then refuse if that went over, so concurrent creates can never overshoot the silo's capacity.
    /// </summary>
    private void AdmitOnThisSilo(string region)
    {
        load.Update(SessionId, SessionStatus.Provisioning, hasAgent: false, region);
        if (load.ActiveSessions <= load.Capacity) return;
        load.Remove(SessionId);
        DeactivateOnIdle();
        throw new RegionCapacityExceededException(load.Region, load.ActiveSessions, load.Capacity,
            (int)Math.Ceiling(regionHealth.Value.RetryAfter.TotalSeconds));
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == OutboxReminder)
        {
            await RedeliverCompletionAsync();
            return;
        }
        if (reminderName != WatchdogReminder) return;
        if (!State.Exists || State.Status.IsTerminal())
        {
            await DropWatchdogAsync(); // stale reminder of a finished (or never stored) session
            return;
        }
        await EnforceDeadlinesAsync();
        // Hosted outside its region (its only silo drained, or a crash): go home once a silo there serves again.
        if (State.Status.IsLive() && State.Region != load.Region && regions.HasServingSilo(State.Region)) MigrateTo(State.Region, avoid: null);
    }

    private async Task<SessionStatus> EnforceDeadlinesAsync()
    {
        if (!State.Exists || !State.Status.IsLive()) return State.Status;
        var now = clock.GetUtcNow();
        if (now - State.CreatedAt >= _options.MaxDuration)
            await EndAsync(SessionStatus.Expired, $"maximum duration of {_options.MaxDuration} reached");
        else if (State.EmptySince is { } since && now - since >= _options.EmptyTimeout)
            await EndAsync(SessionStatus.Expired, $"room empty for {_options.EmptyTimeout}");
        else if (State.StartedAt is null && State.Participants.Count == 0 && State.EmptySince is null && now - State.CreatedAt >= _options.JoinTimeout)
            await EndAsync(SessionStatus.Expired, $"nobody joined within {_options.JoinTimeout}");
        return State.Status;
    }

    private async Task EndAsync(SessionStatus outcome, string reason)
    {
        await StopRelayAsync();
        MoveTo(outcome);
        State.EndedAt = clock.GetUtcNow();
        State.EndReason = reason;
        State.Participants.Clear();
        Record(TimelineKinds.Ended, $"{outcome}: {reason}");
        await StageCompletionAsync(); // the outbox is written with the terminal state, in the same write
        await session.WriteStateAsync();
        await DropWatchdogAsync();
        await PublishCompletionAsync();
        using var scope = BeginScope();
        LogEnded(outcome, reason);
        await DeleteRoomAsync();
    }

    private async Task DropWatchdogAsync()
    {
        var reminder = await this.GetReminder(WatchdogReminder);
        if (reminder is not null) await this.UnregisterReminder(reminder);
    }

    private void MoveTo(SessionStatus next)
    {
        SessionLifecycle.Ensure(SessionId, State.Status, next);
        Record(TimelineKinds.StateChanged, $"{State.Status} -> {next}");
        State.Status = next;
        TrackLoad();
    }

    private void TrackLoad() => load.Update(SessionId, State.Status, State.Participants.Exists(p => p.Role == ParticipantRole.Agent), State.Region);

    /// <summary>Appends to the session's timeline; persisted with the next state write.</summary>
    private void Record(string kind, string? detail)
    {
        if (State.Timeline.Count >= MaxTimelineEvents) State.Timeline.RemoveAt(1); // keep "created", drop the oldest after it
        State.Timeline.Add(new TimelineEvent(clock.GetUtcNow(), kind, detail, silo.SiloAddress.ToParsableString()));
    }

    private bool HasCandidateAndAgent() =>
        State.Participants.Exists(p => p.Role == ParticipantRole.Candidate) &&
        State.Participants.Exists(p => p.Role == ParticipantRole.Agent);

    private void EnsureExists()
    {
        if (!State.Exists) throw new SessionNotFoundException(SessionId);
    }

    private void EnsureTenant(string tenantId)
    {
        if (!State.Exists || !string.Equals(State.TenantId, tenantId, StringComparison.Ordinal))
            throw new SessionNotFoundException(SessionId);
    }

    private void Validate(CreateSession c)
    {
        Require(c.TenantId, "tenantId");
        Require(c.CandidateId, "candidateId");
        Require(c.JobId, "jobId");
        Require(c.Region, "region");
        Require(c.Provider?.Name, "provider");
        if (!relays.Providers.Contains(c.Provider!.Name))
            throw new SessionValidationException(SessionId, "provider", $"unknown voice provider '{c.Provider.Name}'; this cluster has {string.Join(", ", relays.Providers.Names)}");
        if (c.Provider.Secondary is { Length: > 0 } secondary && !relays.Providers.Contains(secondary))
            throw new SessionValidationException(SessionId, "providerOptions.secondary", $"unknown voice provider '{secondary}'; this cluster has {string.Join(", ", relays.Providers.Names)}");
        if (c.Rubric is { } rubric) RubricRules.Validate(SessionId, rubric);
    }

    private void Require(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new SessionValidationException(SessionId, field, "is required");
        if (value.Length > 256) throw new SessionValidationException(SessionId, field, "is longer than 256 characters");
    }

    private SessionSnapshot Snapshot() => new(
        SessionId, State.TenantId, State.CandidateId, State.JobId, State.Status, State.Region, State.RoomName,
        State.Participants.ToArray(), State.Turns.Count, State.Consent, State.Provider,
        State.CreatedAt, State.StartedAt, State.EndedAt, State.EndReason, State.Silo, State.LiveKitUrl,
        ActiveProvider: State.ActiveProvider, Media: _relay?.Stats, ProviderFailovers: State.ProviderFailovers,
        Reconnect: State.Reconnect is { } r && State.Status.IsLive() ? r with { CandidateToken = CandidateToken() } : State.Reconnect,
        PostSessionPending: State.OutboxPending.ToArray(), ErasedAt: State.ErasedAt);

    /// <summary>Every log line written while this session handles a call carries its ids (audio frames excepted: no per-frame scope).</summary>
    async Task IIncomingGrainCallFilter.Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.Name == nameof(IInterviewSessionGrain.PushCandidateAudio))
        {
            await context.Invoke();
            return;
        }
        using var scope = BeginScope();
        await context.Invoke();
    }

    private IDisposable? BeginScope()
    {
        return logger.BeginScope(IdentifyLogScope());
    }

    /// <summary>Copies the ids into the scope on the grain's thread; called again once Create has filled them in.</summary>
    private SessionLogScope IdentifyLogScope()
    {
        _logScope ??= new SessionLogScope(SessionId);
        _logScope.Identify(State.TenantId, State.CandidateId);
        return _logScope;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session created in region {Region}, room {Room}")]
    private partial void LogCreated(string region, string room);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session resumed on {Silo} (was {PreviousSilo}) in state {Status}")]
    private partial void LogResumed(string? previousSilo, string silo, SessionStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session failed over from region {FromRegion} to {ToRegion}")]
    private partial void LogFailedOver(string fromRegion, string toRegion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session ended as {Outcome}: {Reason}")]
    private partial void LogEnded(SessionStatus outcome, string reason);
}
