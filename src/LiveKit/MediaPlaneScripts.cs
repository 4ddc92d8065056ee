namespace VoiceActors.LiveKit;

/// <summary>
/// Where the media plane's Node scripts are (<c>src/media</c>: the stand-in SFU, the agent bridge). They are not copied into
/// build outputs (their node_modules carry a 25 MB native library): a configured path wins, then a <c>media/</c> folder next
/// to the app, then the repository's <c>src/media</c> above it.
/// </summary>
public static class MediaPlaneScripts
{
    public const string Sfu = "media/sfu/index.js";
    public const string Bridge = "media/bridge/index.js";

    /// <summary>The script's full path, or null when it is not there.</summary>
    public static string? Find(string relative, string? configured, string baseDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        var beside = Path.Combine(baseDirectory, relative);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", relative);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
