"""Report sections: each module holds one section's terminal, Markdown and HTML renderers together
(DESIGN.md, "Sections render through one registry per format")."""
