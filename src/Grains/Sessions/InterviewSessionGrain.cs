using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Media.Bridge;
using VoiceActors.Placement;
using VoiceActors.PostSession;
using VoiceActors.Providers;
using VoiceActors.Regions;
using VoiceActors.Telemetry;

namespace VoiceActors.Sessions;

/// <summary>
/// One interview: owns its lifecycle, its room and its provider stream; its state lives in Redis so a survivor can resume it.
/// Each caller asks for its slice (tenant API, media, room events, operations, post-session); every transition and its one
/// state write is here, top to bottom. The room, the media and the outbox are collaborators that report outcomes.
/// </summary>
[RegionalLeastLoadedPlacement]
public sealed partial class InterviewSessionGrain(
    [PersistentState(StorageNames.SessionState, StorageNames.Sessions)] IPersistentState<InterviewSessionState> session,
    [FromKeyedServices(StorageNames.Sessions)] IGrainStorage sessionStorage,
    ISessionLog log,
    IOptions<InterviewSessionOptions> options,
    TimeProvider clock,
    ILocalSiloDetails silo,
    IClusterMembershipService membership,
    SiloSessionLoad load,
    AudioRelayFactory relays,
    RegionView regions,
    IOptions<RegionHealthOptions> regionHealth,
    ILogger<InterviewSessionGrain> logger,
    LiveKitDirectory livekit,
    MediaBridge bridge,
    Recording.SessionRecorders recorders)
    : Grain, IInterviewSessionGrain, ISessionMediaGrain, ISessionRoomEventsGrain, ISessionOperationsGrain, ISessionPostSessionGrain, ISessionCandidateGrain,
      ISessionMediaEvents, IRemindable, IGrainMigrationParticipant, IIncomingGrainCallFilter
{
    internal const int MaxRememberedRoomEvents = 64; // LiveKit retries within ~15 s; a session sees a few dozen events in all; 64 ids keep the state under 4 KB
    internal const string TrackPublishedKind = "track.published";
    internal const string RoomDeleteFailedKind = "room.delete_failed";
    internal const string ObserverTokenKind = "observer.token";
    internal const string MovingKind = "silo.moving"; // a relocation found its turn boundary: from here the candidate's audio waits for the new silo
    internal const string DeactivatedKind = "silo.deactivated"; // this activation's media stopped: the rest of a move is the runtime's handover

    /// <summary>How long a relocation waits for a turn boundary before moving anyway (a monologue must not outlast the drain's deadline).</summary>
    internal static readonly TimeSpan MaxTurnBoundaryWait = TimeSpan.FromSeconds(10);

    private static readonly MethodInfo PushCandidateAudioMethod = typeof(ISessionMediaGrain).GetMethod(nameof(ISessionMediaGrain.PushCandidateAudio))!;

    private readonly InterviewSessionOptions _options = options.Value;
    private bool _relocating;
    private long _relocatingSince;
    private bool _migratedIn;
    private SessionLogScope? _logScope;
    private SessionRoom? _room;
    private SessionMedia? _media;
    private SessionOutbox? _outbox;
    private ConversationWindow? _turns;
    private readonly List<TimelineEvent> _unsaved = []; // recorded since the last checkpoint, not yet in the log
    private bool _logCarried;
    private const string LogMigrationKey = "va.log";

    private InterviewSessionState State => session.State;
    private string SessionId => this.GetPrimaryKeyString();
    private SessionRoom Room => _room ??= new SessionRoom(SessionId, livekit, logger);
    private SessionMedia Media => _media ??= new SessionMedia(SessionId, relays, bridge, recorders, new SessionSinkStore(sessionStorage, this.GetGrainId())); // made before activation: rehydration fills it

    /// <summary>The AI agent's identity in the room, stable per session: a re-joining agent evicts its stale self; the provider speaks as it.</summary>
    private string AgentIdentity => LiveKitIdentities.Agent(SessionId);
    private SessionOutbox Outbox => _outbox ??= new SessionOutbox(this, SessionId, ServiceProvider, logger);

    /// <summary>The checkpointed turns a replay needs (the newest whole, older ones condensed, a budget's worth) and their count; the rest is in the log.</summary>
    private ConversationWindow Turns => _turns ??= new ConversationWindow(ReplayLimits.Of(relays.Providers));

    // ---- Activation: a live session activating here means its previous silo died or handed it over.

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!State.Exists) return;
        if (!_logCarried) await LoadLogAsync(); // a migration carries what this activation needs of the log
        if (!State.Status.IsLive()) return;
        TrackLoad();
        var previous = State.Silo;
        State.Silo = silo.SiloAddress.ToParsableString();
        State.Activations++;
        if (_migratedIn) State.Migrations++;
        Record(TimelineKinds.Resumed, $"from {previous ?? "unknown"} in state {State.Status}");
        // Migrated: the old side's checkpoint is in Redis and the rest rode the migration, so the live session does not wait
        // for this write (the target's migration batch returns only once every activation is done); it follows in a grain turn.
        if (_migratedIn) ScheduleCheckpoint();
        else await SaveAsync();
        using var scope = BeginScope();
        LogResumed(previous, State.Silo, State.Status);
        // Not handed over, and its silo is gone (not just an idle deactivation): the client's sink went with it. Send to that
        // sink again, and have the provider answer at once (the candidate may have spoken while no silo heard it).
        var afterOutage = !_migratedIn && previous is not null && previous != State.Silo &&
            membership.CurrentSnapshot.GetSiloStatus(SiloAddress.FromParsableString(previous)) != SiloStatus.Active;
        if (afterOutage) _ = Media.RestoreSinkAsync(); // on this activation's scheduler; the resume does not wait for the read
        // The interview was talking to a provider when its silo died: reconnect now, replaying the checkpointed turns.
        if (State.ActiveProvider is not null && State.Status is SessionStatus.Active or SessionStatus.Reconnecting) EnsureMedia(afterOutage);
        // Not after a migration: a drain or failover chose this silo on purpose, and bouncing back would chase a draining silo.
        if (!_migratedIn) GoHomeIfServing(avoid: null);
        await EnsureAgentInRoomAsync(); // the candidate may still be in the room: the agent rejoins from here
    }

    /// <summary>A one-shot timer: its tick is a grain turn, so the write never interleaves with another checkpoint of this state.</summary>
    private void ScheduleCheckpoint()
    {
        IGrainTimer? timer = null;
        timer = this.RegisterGrainTimer(async _ =>
        {
            timer?.Dispose();
            await SaveAsync();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    /// <summary>
    /// Reads what the session needs of its log: how many turns, and for a live one the newest turns a replay can use (read back
    /// from the end only that far). A state stored before the log existed has its turns and timeline moved into the log first.
    /// </summary>
    private async Task LoadLogAsync()
    {
        if (State.LegacyTurns.Count > 0 || State.LegacyTimeline.Count > 0)
        {
            await log.ImportAsync(SessionId, State.LegacyTurns, State.LegacyTimeline);
            State.LegacyTurns = [];
            State.LegacyTimeline = [];
            await SaveAsync();
        }
        var count = await log.CountTurnsAsync(SessionId);
        if (State.Status.IsLive()) await Turns.LoadAsync(count, (from, n) => log.ReadTurnsAsync(SessionId, from, n));
        else Turns.Reset(count); // nothing will be replayed: the routes page the turns in from the log
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        load.Remove(SessionId);
        await Media.StopAsync();
        if (reason.ReasonCode == DeactivationReasonCode.Migrating && State.Exists) Record(DeactivatedKind, null); // carried by the migration
    }

    // ---- Tenant API

    async Task<SessionSnapshot> IInterviewSessionGrain.Create(CreateSession command)
    {
        CreateSessionRules.Validate(command, relays.Providers);
        if (State.Exists) throw new SessionAlreadyExistsException(SessionId);

        AdmitOnThisSilo(command.Region);
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
        State.CreatedAt = clock.GetUtcNow();
        State.Silo = silo.SiloAddress.ToParsableString();
        State.Activations = 1;
        Record(TimelineKinds.Created, $"region {command.Region}, provider {command.Provider.Name}");
        VoiceMetrics.SessionsStarted.Add(1, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, command.Provider.Name));

        // The reminder goes first: from here on a crash must not lose the session.
        await this.RegisterOrUpdateReminder(SessionReminders.Watchdog, _options.WatchdogPeriod, _options.WatchdogPeriod);
        MoveTo(SessionStatus.Provisioning);
        await SaveAsync();

        var provisioning = await Room.ProvisionAsync(State.Region, State.RoomName);
        if (provisioning is SessionRoom.Refused refused)
        {
            await EndAsync(SessionStatus.Failed, refused.Reason);
            return Snapshot(); // Failed, with the reason; the caller is never left hanging
        }
        UseRoom((SessionRoom.Provisioned)provisioning, note: "");
        MoveTo(SessionStatus.WaitingForParticipants);
        await SaveAsync();
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

    async Task<LiveKitJoin> IInterviewSessionGrain.IssueObserverToken(string tenantId, string observerId)
    {
        EnsureTenant(tenantId);
        if (string.IsNullOrWhiteSpace(observerId) || observerId.Length > 64 || !observerId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new RequestValidationException("observerId", "must be 1-64 letters, digits, '-', '_' or '.'");
        if (!State.Status.IsLive() || State.RoomSid is null)
            throw new RequestValidationException("state", $"the interview is {State.Status}; observers can join only a live interview");
        var join = Room.ObserverJoin(State.Region, State.RoomName, State.LiveKitUrl, observerId, RemainingTime(), clock.GetUtcNow());
        Record(ObserverTokenKind, join.Identity); // who was let in to watch is part of the record
        await SaveTimelineAsync();
        return join;
    }

    Task<CandidateConnection> ISessionCandidateGrain.GetCandidateConnection(string identity)
    {
        if (!State.Exists || !string.Equals(identity, LiveKitIdentities.Candidate(State.CandidateId), StringComparison.Ordinal))
            throw new SessionNotFoundException(SessionId);
        return Task.FromResult(new CandidateConnection(State.Status, State.LiveKitUrl, State.RoomName, ReconnectWithFreshToken()));
    }

    async Task IInterviewSessionGrain.RecordTurn(Turn turn)
    {
        EnsureExists();
        if (State.Status.IsTerminal()) throw new InvalidSessionTransitionException(SessionId, State.Status, State.Status);
        if (string.IsNullOrWhiteSpace(turn.Text)) throw new RequestValidationException("text", "a turn needs text");
        if (turn.EndedAt < turn.StartedAt) throw new RequestValidationException("endedAt", "a turn cannot end before it starts");
        await CheckpointTurnAsync(turn); // checkpoint per turn: a crash loses at most the turn in progress
    }

    /// <summary>The whole transcript, paged in from the log (the grain holds only what a replay needs).</summary>
    async Task<IReadOnlyList<Turn>> IInterviewSessionGrain.GetTurns(string tenantId)
    {
        EnsureTenant(tenantId);
        return await log.ReadTurnsAsync(SessionId, 0, int.MaxValue);
    }

    async Task<IReadOnlyList<TimelineEvent>> IInterviewSessionGrain.GetTimeline(string tenantId)
    {
        EnsureTenant(tenantId);
        var saved = await log.ReadTimelineAsync(SessionId);
        return [.. saved, .. _unsaved];
    }

    // ---- Room events: what LiveKit's webhooks say about the room

    async Task<RoomEventResult> ISessionRoomEventsGrain.ApplyRoomEvent(RoomEvent e)
    {
        if (!State.Exists)
        {
            DeactivateOnIdle(); // a webhook for a room that is not ours must not keep an empty activation alive
            return RoomEventResult.UnknownSession;
        }
        LogRoomEvent(e.Kind, e.EventId, e.Identity);
        if (e.EventId.Length > 0 && State.AppliedRoomEvents.Contains(e.EventId)) return RoomEventResult.Duplicate;
        if (State.Status.IsTerminal()) return RoomEventResult.Ignored;

        var present = e.Identity is not null && State.Participants.Exists(p => p.Identity == e.Identity);
        switch (e.Kind)
        {
            case RoomEventKind.ParticipantJoined when e.Identity is not null && e.Role is { } role:
                Remember(e);
                await ParticipantJoinedAsync(e.Identity, role);
                return RoomEventResult.Applied;
            case RoomEventKind.ParticipantLeft when present:
                Remember(e);
                await ParticipantLeftAsync(e.Identity!);
                return RoomEventResult.Applied;
            case RoomEventKind.TrackPublished when !present && e.Identity is not null && e.Role is { } role:
                Remember(e);
                await ParticipantJoinedAsync(e.Identity, role); // a publisher is in the room even if its join was lost
                return RoomEventResult.Applied;
            case RoomEventKind.TrackPublished when present:
                Remember(e);
                Record(TrackPublishedKind, e.Identity);
                await SaveAsync();
                return RoomEventResult.Applied;
            case RoomEventKind.RoomFinished:
                Remember(e);
                Room.MarkFinished();
                await RoomFinishedAsync();
                return RoomEventResult.Applied;
            default:
                return RoomEventResult.Ignored; // no effect, so a retry is harmless: no id to remember, no write (room_started on every create)
        }
    }

    private async Task ParticipantJoinedAsync(string identity, ParticipantRole role)
    {
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
        await SaveAsync();
        if (role == ParticipantRole.Candidate) await EnsureAgentInRoomAsync();
    }

    private async Task ParticipantLeftAsync(string identity)
    {
        if (State.Participants.RemoveAll(p => p.Identity == identity) == 0) return;
        Record(TimelineKinds.ParticipantLeft, identity);
        TrackLoad();
        if (State.Participants.Count == 0) State.EmptySince = clock.GetUtcNow();
        if (State.Status == SessionStatus.Active && !HasCandidateAndAgent()) MoveTo(SessionStatus.Reconnecting);
        await SaveAsync();
    }

    /// <summary>The room is gone (closed by LiveKit or its empty timeout).</summary>
    private Task RoomFinishedAsync() =>
        // A room that closes after the conversation started is a finished interview; one that never started has expired.
        EndAsync(State.StartedAt is null ? SessionStatus.Expired : SessionStatus.Completed, "room finished");

    // ---- Media: candidate audio in, provider audio, transcript and events back

    Task ISessionMediaGrain.PushCandidateAudio(AudioFrame frame)
    {
        var relay = Media.Relay ?? EnsureMedia();
        if (frame.Pcm is null || frame.Pcm.Length == 0 || frame.Pcm.Length > AudioFormat.MaxFrameBytes || (frame.Pcm.Length & 1) != 0)
        {
            MediaMetrics.Dropped("invalid");
            throw new RequestValidationException("pcm", $"a frame is PCM16 mono, an even number of bytes up to {AudioFormat.MaxFrameBytes} (20 ms at 24 kHz is {AudioFormat.FrameBytes})");
        }
        relay.Push(frame); // rate-limited and provider-unavailable frames are counted inside; the caller need not slow down
        return Task.CompletedTask;
    }

    Task ISessionMediaGrain.AttachMedia(IAudioSink sink)
    {
        EnsureMedia();
        return Media.AttachAsync(sink);
    }

    Task ISessionMediaGrain.DetachMedia(IAudioSink sink) => Media.DetachAsync(sink);

    async Task ISessionMediaEvents.OnProviderTurn(Turn turn)
    {
        if (!State.Exists || State.Status.IsTerminal() || string.IsNullOrWhiteSpace(turn.Text)) return;
        await CheckpointTurnAsync(turn); // as RecordTurn: a crash loses at most the turn in progress
        Media.Transcript(turn);
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
                    await ParticipantJoinedAsync(AgentIdentity, ParticipantRole.Agent); // writes state
                    return;
                }
                break;
            case TimelineKinds.ProviderFailed when State.Participants.Exists(p => p.Identity == AgentIdentity):
                await ParticipantLeftAsync(AgentIdentity); // the agent is gone until the provider is back; writes state
                return;
            case TimelineKinds.ProviderFailover:
                State.ActiveProvider = e.Provider;
                State.ProviderFailovers++;
                break;
            default:
                await SaveTimelineAsync(); // errors, spikes, barge-ins, rotations: only the timeline changes
                return;
        }
        await SaveAsync();
    }

    /// <summary>The session's media, started on first use: a media socket attaching, a first frame, or a resume.</summary>
    private AudioRelay EnsureMedia(bool afterOutage = false)
    {
        if (Media.Relay is { } relay) return relay;
        EnsureExists();
        if (State.Status.IsTerminal()) throw new InvalidSessionTransitionException(SessionId, State.Status, SessionStatus.Active);
        var events = this.AsReference<ISessionMediaEvents>();
        return Media.Start(State.Provider, State.ActiveProvider, Turns.Snapshot(), events,
            State.Consent.Recording ? new Recording.RecordingTarget(State.TenantId, SessionId, events) : null, afterOutage);
    }

    async Task ISessionMediaEvents.OnAgentRoom(string state, string reason)
    {
        if (!State.Exists || State.Status.IsTerminal()) return;
        Record(TimelineKinds.AgentRoom, $"{state}: {reason}");
        if (Media.InRoom) return; // progress of a live connection (or a stale one's last word): on the timeline with the next write
        await SaveTimelineAsync();
        await Media.LeaveRoomAsync(); // failed or dropped: the next candidate join or watchdog tick joins again with a fresh token
    }

    /// <summary>
    /// The agent joins the room once the candidate is in it, through this silo's media bridge, where the region's LiveKit carries
    /// media (a configured LiveKit, or the stand-in with its SFU). The provider link starts with it, so the agent has a voice.
    /// </summary>
    private async Task EnsureAgentInRoomAsync()
    {
        if (!State.Status.IsLive() || Media.InRoom || !Media.CanJoinRooms) return;
        if (State.Participants.Find(p => p.Role == ParticipantRole.Candidate) is not { } candidate) return;
        if (Room.AgentJoin(State.Region, State.RoomName, AgentIdentity, candidate.Identity, RemainingTime()) is not { } join) return;
        EnsureMedia();
        await Media.JoinRoomAsync(join, new AgentMediaTarget(this.AsReference<ISessionMediaGrain>(), this.AsReference<ISessionMediaEvents>()));
    }

    // ---- The reminders: the watchdog's deadlines, the outbox's re-delivery

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        switch (reminderName)
        {
            case SessionReminders.Outbox:
                await Outbox.RedeliverAsync(State.Exists ? State.Outbox : null, State.OutboxPending);
                break;
            case SessionReminders.Watchdog when !State.Exists || State.Status.IsTerminal():
                await this.DropIfPresentAsync(SessionReminders.Watchdog); // stale reminder of a finished (or never stored) session
                break;
            case SessionReminders.Watchdog:
                await EnforceDeadlinesAsync();
                // Hosted outside its region (its only silo drained, or a crash): go home once a silo there serves again.
                if (State.Status.IsLive()) GoHomeIfServing(avoid: null);
                await EnsureAgentInRoomAsync(); // the safety net: an agent connection that failed or dropped joins again
                break;
        }
    }

    /// <summary>Enforces the maximum duration, the empty timeout and the join timeout.</summary>
    private async Task EnforceDeadlinesAsync()
    {
        if (!State.Status.IsLive()) return;
        var now = clock.GetUtcNow();
        if (now - State.CreatedAt >= _options.MaxDuration)
            await EndAsync(SessionStatus.Expired, $"maximum duration of {_options.MaxDuration} reached");
        else if (State.EmptySince is { } since && now - since >= _options.EmptyTimeout)
            await EndAsync(SessionStatus.Expired, $"room empty for {_options.EmptyTimeout}");
        else if (State.StartedAt is null && State.Participants.Count == 0 && State.EmptySince is null && now - State.CreatedAt >= _options.JoinTimeout)
            await EndAsync(SessionStatus.Expired, $"nobody joined within {_options.JoinTimeout}");
    }

    // ---- Operations: drain and region failover

    async Task<string?> ISessionOperationsGrain.Relocate(string fromSilo, string reason)
    {
        var here = silo.SiloAddress.ToParsableString();
        if (!State.Exists || !State.Status.IsLive() || here != fromSilo) return here;
        if (!_relocating)
        {
            _relocating = true;
            _relocatingSince = clock.GetTimestamp();
            Record(TimelineKinds.Migrating, reason);
            await SaveTimelineAsync(); // the log holds the same as the migration package, whichever the new silo sees
        }
        // Between turns, so the move cuts no answer and splits no utterance; the caller asks again until it has moved.
        if (!Media.AtTurnBoundary && clock.GetElapsedTime(_relocatingSince) < MaxTurnBoundaryWait) return here;
        Record(MovingKind, $"after {clock.GetElapsedTime(_relocatingSince).TotalMilliseconds:0} ms"); // carried by the migration, not written here
        MigrateTo(State.Region, avoid: here);
        return here;
    }

    async Task<ReconnectDirective?> ISessionOperationsGrain.FailOver(RegionFailover failover)
    {
        EnsureExists();
        if (!State.Status.IsLive()) return State.Reconnect;
        if (State.Region == failover.FromRegion)
        {
            // A room in the target region first: if its LiveKit refuses, nothing else changes and the next refresh retries.
            var provisioning = await Room.ProvisionAsync(failover.ToRegion, State.RoomName);
            if (provisioning is SessionRoom.Refused refused)
            {
                Record(TimelineKinds.RegionFailover, $"room in {failover.ToRegion} not created: {refused.Error}; retrying");
                await SaveTimelineAsync();
                return null;
            }
            var room = (SessionRoom.Provisioned)provisioning;
            UseRoom(room, note: " (failover)");
            State.Region = failover.ToRegion;
            TrackLoad(); // this silo stops counting it among the down region's sessions
            // The token is minted fresh on every read (see Snapshot), never stored.
            State.Reconnect = new ReconnectDirective(failover.ToRegion, room.PublicUrl, State.RoomName, CandidateToken: null,
                clock.GetUtcNow(), failover.Reason, failover.FromRegion);
            Record(TimelineKinds.RegionFailover, $"{failover.FromRegion} -> {failover.ToRegion}: {failover.Reason}");
            await SaveAsync();
            using var scope = BeginScope();
            LogFailedOver(failover.FromRegion, failover.ToRegion);
        }
        GoHomeIfServing(avoid: silo.SiloAddress.ToParsableString());
        return State.Reconnect;
    }

    /// <summary>Wake-on-death (<see cref="SessionFailover"/>): the call is the point; activation resumed a live session already.</summary>
    Task ISessionOperationsGrain.Wake() => Task.CompletedTask;

    /// <summary>The media socket, and what is in memory of the log (the replay's turns, their count, events not yet written): the new silo does not re-read it.</summary>
    void IGrainMigrationParticipant.OnDehydrate(IDehydrationContext context)
    {
        Media.Dehydrate(context);
        if (!State.Exists) return;
        var turns = Turns.Snapshot();
        context.TryAddValue(LogMigrationKey, new CarriedLog([.. turns.Turns], turns.Earlier, [.. _unsaved]));
    }

    void IGrainMigrationParticipant.OnRehydrate(IRehydrationContext context)
    {
        Media.Rehydrate(context);
        _migratedIn = true;
        if (!context.TryGetValue<CarriedLog>(LogMigrationKey, out var carried) || carried is null) return;
        Turns.Reset(carried.Earlier);
        foreach (var turn in carried.Turns) Turns.Add(turn);
        _unsaved.AddRange(carried.Unsaved);
        _logCarried = true;
    }

    /// <summary>Hosted outside its region: move there once one of its silos serves (placement picks it, avoiding <paramref name="avoid"/>).</summary>
    private void GoHomeIfServing(string? avoid)
    {
        if (State.Region != load.Region && regions.HasServingSilo(State.Region)) MigrateTo(State.Region, avoid);
    }

    /// <summary>Asks the runtime to move this activation once idle; placement reads the region (and the silo to avoid) from the request context.</summary>
    private void MigrateTo(string region, string? avoid)
    {
        RequestContext.Set(RegionContext.RegionKey, region);
        if (avoid is not null) RequestContext.Set(RegionContext.AvoidSiloKey, avoid);
        this.MigrateOnIdle();
    }

    // ---- Post-session: acknowledgements, milestones, retention

    async Task ISessionPostSessionGrain.AcknowledgeCompletion(string consumer)
    {
        EnsureExists();
        if (!State.OutboxPending.Remove(consumer)) return; // a duplicate acknowledgement from a re-delivery
        if (State.OutboxPending.Count == 0) await Outbox.DisarmAsync();
        await SaveAsync();
    }

    async Task ISessionPostSessionGrain.RecordPostSession(string kind, string? detail)
    {
        EnsureExists();
        if (kind != TimelineKinds.Evaluated)
            throw new RequestValidationException("kind", $"'{kind}' is not a post-session timeline event");
        if (State.ErasedAt is not null) return; // nothing is recorded about a deleted session except its deletion
        Record(kind, detail);
        await SaveTimelineAsync();
    }

    async Task ISessionPostSessionGrain.Erase(string tenantId, string reason)
    {
        EnsureTenant(tenantId);
        if (State.ErasedAt is not null) return;
        await log.EraseAsync(SessionId); // the turns go; the timeline keeps when things happened, not what was said or who said it
        Turns.Reset(0);
        for (var i = 0; i < _unsaved.Count; i++) _unsaved[i] = _unsaved[i] with { Detail = null };
        State.CandidateId = "";
        State.CandidateName = null;
        State.JobId = "";
        State.Rubric = null;
        State.Participants.Clear();
        State.Provider = new ProviderSettings(State.Provider.Name); // instructions may name the candidate
        State.EndReason = null;
        State.Outbox = null;
        State.OutboxPending.Clear();
        State.ErasedAt = clock.GetUtcNow();
        Record(TimelineKinds.Deleted, reason);
        await SaveAsync();
        await Outbox.DisarmAsync();
    }

    // ---- The end: every way out comes here

    private async Task EndAsync(SessionStatus outcome, string reason)
    {
        await Media.StopAsync();
        await Media.ForgetSinkAsync();
        MoveTo(outcome);
        State.EndedAt = clock.GetUtcNow();
        State.EndReason = reason;
        State.Participants.Clear();
        Record(TimelineKinds.Ended, $"{outcome}: {reason}");
        if (State.Outbox is null)
        {
            // The outbox is written with the terminal state, in the same write.
            State.Outbox = await Outbox.StageAsync(State, Turns.Count, clock.GetUtcNow());
            State.OutboxPending = [.. PostSessionConsumers.All];
        }
        await SaveAsync();
        await this.DropIfPresentAsync(SessionReminders.Watchdog);
        await Outbox.PublishAsync(State.Outbox, State.OutboxPending);
        using var scope = BeginScope();
        LogEnded(outcome, reason);
        if (await Room.DeleteAsync(State.Region, State.RoomName, State.RoomSid) is { } error)
        {
            Record(RoomDeleteFailedKind, error);
            await SaveTimelineAsync(); // after the end, and rare: LiveKit's empty timeout closes the room anyway
        }
    }

    // ---- Helpers

    private void MoveTo(SessionStatus next)
    {
        SessionLifecycle.Ensure(SessionId, State.Status, next);
        Record(TimelineKinds.StateChanged, $"{State.Status} -> {next}");
        State.Status = next;
        TrackLoad();
    }

    private void UseRoom(SessionRoom.Provisioned room, string note)
    {
        State.RoomSid = room.Sid;
        State.LiveKitUrl = room.PublicUrl;
        Record(TimelineKinds.RoomProvisioned, $"{room.Name} ({room.Sid}) on {room.PublicUrl}{note}");
    }

    /// <summary>Remembers an event id with the change it causes, in the same state write, so LiveKit's retry is applied once.</summary>
    private void Remember(RoomEvent e)
    {
        if (e.EventId.Length == 0) return;
        if (State.AppliedRoomEvents.Count >= MaxRememberedRoomEvents) State.AppliedRoomEvents.RemoveAt(0);
        State.AppliedRoomEvents.Add(e.EventId);
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

    private void TrackLoad() => load.Update(SessionId, State.Status, State.Participants.Exists(p => p.Role == ParticipantRole.Agent), State.Region);

    /// <summary>Appends to the session's timeline; in the log with the next checkpoint.</summary>
    private void Record(string kind, string? detail)
    {
        if (_unsaved.Count >= ISessionLog.MaxTimelineEvents) _unsaved.RemoveAt(0); // a runaway between checkpoints: the log keeps "created"
        _unsaved.Add(new TimelineEvent(clock.GetUtcNow(), kind, detail, silo.SiloAddress.ToParsableString()));
    }

    /// <summary>
    /// The checkpoint of a change: the events recorded since the last one go to the log (its write renews the log's expiry
    /// with the state's), then the state, which stays small. Events kept in memory until their write succeeded.
    /// </summary>
    private async Task SaveAsync()
    {
        await SaveTimelineAsync();
        await session.WriteStateAsync();
    }

    /// <summary>For a change only the timeline sees: the new events go to the log, the state is not rewritten.</summary>
    private async Task SaveTimelineAsync()
    {
        var events = _unsaved.ToArray();
        await log.AppendAsync(SessionId, [], events);
        _unsaved.RemoveRange(0, events.Length);
    }

    /// <summary>A turn checkpoint: the turn (with any events recorded since the last checkpoint) appended, nothing rewritten.</summary>
    private async Task CheckpointTurnAsync(Turn turn)
    {
        var events = _unsaved.ToArray();
        await log.AppendAsync(SessionId, [turn], events);
        _unsaved.RemoveRange(0, events.Length);
        Turns.Add(turn);
    }

    private bool HasCandidateAndAgent() =>
        State.Participants.Exists(p => p.Role == ParticipantRole.Candidate) &&
        State.Participants.Exists(p => p.Role == ParticipantRole.Agent);

    private TimeSpan RemainingTime()
    {
        var left = State.CreatedAt + _options.MaxDuration - clock.GetUtcNow();
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    /// <summary>The token is minted fresh on every read, never stored.</summary>
    private ReconnectDirective? ReconnectWithFreshToken() =>
        State.Reconnect is { } r && State.Status.IsLive() ? r with { CandidateToken = CandidateToken() } : State.Reconnect;

    private string CandidateToken() => Room.CandidateToken(State.Region, State.RoomName, State.CandidateId, State.CandidateName, RemainingTime());

    private void EnsureExists()
    {
        if (!State.Exists) throw new SessionNotFoundException(SessionId);
    }

    private void EnsureTenant(string tenantId)
    {
        if (!State.Exists || !string.Equals(State.TenantId, tenantId, StringComparison.Ordinal))
            throw new SessionNotFoundException(SessionId);
    }

    private SessionSnapshot Snapshot() => new(
        SessionId, State.TenantId, State.CandidateId, State.JobId, State.Status, State.Region, State.RoomName,
        State.Participants.ToArray(), Turns.Count, State.Consent, State.Provider,
        State.CreatedAt, State.StartedAt, State.EndedAt, State.EndReason, State.Silo, State.LiveKitUrl,
        ActiveProvider: State.ActiveProvider, Media: _media?.Stats, ProviderFailovers: State.ProviderFailovers,
        Reconnect: ReconnectWithFreshToken(),
        PostSessionPending: State.OutboxPending.ToArray(), ErasedAt: State.ErasedAt);

    // ---- Log scopes: every log line written while this session handles a call carries its ids

    async Task IIncomingGrainCallFilter.Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod == PushCandidateAudioMethod)
        {
            await context.Invoke(); // audio frames: no per-frame scope
            return;
        }
        using var scope = BeginScope();
        await context.Invoke();
    }

    private IDisposable? BeginScope() => logger.BeginScope(IdentifyLogScope());

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

    [LoggerMessage(Level = LogLevel.Information, Message = "LiveKit {Kind} event {EventId} for {Identity}")]
    private partial void LogRoomEvent(RoomEventKind kind, string eventId, string? identity);
}
