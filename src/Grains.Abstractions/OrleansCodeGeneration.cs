using VoiceActors.LiveKit;

// ParticipantRole lives in the Orleans-free LiveKit library; its serializer is generated here, where the grain messages are.
[assembly: GenerateCodeForDeclaringAssembly(typeof(ParticipantRole))]
