namespace VoiceActors;

/// <summary>The grains' one way to drop a durable reminder that may or may not be registered (a session's watchdog or outbox, a retention deadline).</summary>
internal static class GrainReminders
{
    public static async Task DropIfPresentAsync(this Grain grain, string name)
    {
        var reminder = await grain.GetReminder(name);
        if (reminder is not null) await grain.UnregisterReminder(reminder);
    }
}
