using VoiceActors.LiveKit;

// ParticipantRole lives in the Orleans-free LiveKit library; its serializer is generated here, where the grain messages are.
[assembly: GenerateCodeForDeclaringAssembly(typeof(ParticipantRole))]

// The ids of [GenerateSerializer] records. A record that is only sent (grain calls, views) has no [Id]s: Orleans numbers its
// primary-constructor members in order, so a new member goes at the end. A record that InterviewSessionState stores (in Redis,
// with this serializer) keeps its [property: Id(n)]: dropping them writes the fields before the end-of-base marker instead of
// after it, and every stored session would read back as defaults. A new member of a stored record takes the next unused id.
// Enums alike: one only sent numbers its members in order; one stored (SessionStatus, RegionHealthMode) states its numbers.
// Classes are not records: Orleans numbers no member of a class by itself (IncludePrimaryConstructorParameters defaults to
// false for them), so the typed errors (RequestValidationException, the Region* and Session* exceptions), though only sent,
// state an [Id] on every member they carry.
