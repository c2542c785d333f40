"""JMA 防災情報XML trigger: hardened parsing of telegrams and feeds, and pure rule conditions."""
