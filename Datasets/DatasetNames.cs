namespace Platform.Datasets;

/// <summary>Dataset names become blob path prefixes, so they are restricted to a safe alphabet.</summary>
public static class DatasetNames
{
    public static void Validate(string name)
    {
        if (!IsValid(name)) throw new ArgumentException(Invalid(name));
    }

    /// <summary>What is wrong with a name <see cref="IsValid"/> refuses, in words for the user.</summary>
    public static string Invalid(string name) =>
        $"'{name}' is not a valid dataset name: use 1-200 characters of letters, digits, '.', '_', '-' and '/', not starting with '/' or '.', without '..' or '//'.";

    public static bool IsValid(string name) =>
        name.Length is >= 1 and <= 200
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/')
        && name[0] is not ('/' or '.')
        && name[^1] != '/'
        && !name.Contains("..", StringComparison.Ordinal)
        && !name.Contains("//", StringComparison.Ordinal);
}
