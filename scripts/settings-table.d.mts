/** Start marker of the generated settings table in README.md. */
export declare const START: string;
/** End marker of the generated settings table in README.md. */
export declare const END: string;
/** The READMEs that carry the generated table, relative to the repository root. */
export declare const README_PATHS: readonly string[];
/** The settings table (Markdown) generated from `settingFields` of @astraflow/config. */
export declare function renderSettingsTable(): string;
/** `readme` with the text between the markers replaced by the generated table; throws without the markers. */
export declare function renderReadme(readme: string): string;
