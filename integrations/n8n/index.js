// n8n loads the node and credential classes from the paths in package.json's "n8n" field; this entry is empty on purpose.
module.exports = {};
