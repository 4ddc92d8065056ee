namespace VoiceActors.LiveKit;

/// <summary>Who a participant is in an interview room; a token's grants and kind follow from it.</summary>
public enum ParticipantRole
{
    Candidate = 0,
    Agent = 1,
    Observer = 2,
}
