namespace Platform.Datasets;

/// <summary>
/// Dataset names become blob path prefixes and folder names, so they are restricted to a safe alphabet
/// without '/': a name with a '/' would nest inside another dataset's prefix ("a/manifest" under "a").
/// </summary>
public static class DatasetNames
{
    public static void Validate(string name)
    {
        if (!IsValid(name)) throw new ArgumentException(Invalid(name));
    }

    /// <summary>What is wrong with a name <see cref="IsValid"/> refuses, in words for the user.</summary>
    public static string Invalid(string name) =>
        $"'{name}' is not a valid dataset name: use 1-200 characters of letters, digits, '.', '_' and '-', not starting with '.' and without '..' (no '/': dataset names do not nest).";

    public static bool IsValid(string name) =>
        name.Length is >= 1 and <= 200
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
        && name[0] != '.'
        && !name.Contains("..", StringComparison.Ordinal);
}
